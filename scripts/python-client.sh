#!/usr/bin/env bash
# The Python client against a fresh all-in-one `homeward`: a venv in .tools/python-client-venv
# (installed again only when clients/python/requirements.txt changes), stubs generated from
# proto/, the server started in dev mode on free ports with a temporary data folder, then
# clients/python/scenario.py (generated stubs) and clients/python/reflect.py (reflection only).
# The server is stopped with SIGTERM and must exit cleanly. Exits non-zero if anything failed,
# the server's failure to start included; on failure the server's log is shown and kept.
#
# Environment: CARGO_TARGET_DIR (where the binaries are), PYTHON (the interpreter for the venv,
# default python3), READY_TIMEOUT (seconds to wait for the server, default 60),
# PYTHON_CLIENT_BUILD (auto: build when missing or stale; missing: only when missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
started=$SECONDS

target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$root/$target
homeward=$target/debug/homeward
homewardctl=$target/debug/homewardctl
venv=$root/.tools/python-client-venv
requirements=$root/clients/python/requirements.txt
stamp=$venv/.requirements.sha256

fail() {
  echo "python-client: $*" >&2
  exit 1
}

# Settings of the caller's own services (secret, config file, addresses) must not leak into the
# server and tools started here.
mapfile -t inherited < <(compgen -e | grep '^HOMEWARD_' || true)
clean=(env)
for name in "${inherited[@]}"; do clean+=(-u "$name"); done

# 1. The venv, and its packages when the requirements changed.
if [[ ! -x $venv/bin/python ]]; then
  "${PYTHON:-python3}" -m venv "$venv" || fail "cannot create the venv in $venv"
fi
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
    || fail "pip install -r $requirements failed"
  echo "$want" >"$stamp"
fi
python=$venv/bin/python

# 2. Stubs from proto/.
PYTHON=$python clients/python/generate.sh || fail "stub generation failed"

# 3. The binaries: built when missing or older than a source they are made from
# (PYTHON_CLIENT_BUILD=missing: only when missing, e.g. to test a build while the tree is edited).
stale() {
  [[ -x $1 ]] || return 0
  [[ ${PYTHON_CLIENT_BUILD:-auto} == missing ]] && return 1
  [[ -n $(find Cargo.lock proto services crates -newer "$1" \( -name '*.rs' -o -name '*.proto' \
    -o -name '*.sql' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -print -quit 2>/dev/null) ]]
}
if stale "$homeward" || stale "$homewardctl"; then
  cargo build --quiet -p homeward -p homewardctl --bins || fail "cargo build failed"
fi
[[ -x $homeward && -x $homewardctl ]] || fail "no $homeward or $homewardctl after the build"

# 4. The server: dev mode, port 0 for each service (it announces the ports it got), JSON logs.
work=$(mktemp -d "${TMPDIR:-/tmp}/homeward-python-client.XXXXXX")
log=$work/homeward.log
server=
ok=0
finish() {
  local status=$?
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [[ $ok == 1 ]]; then
    rm -rf "$work"
  else
    if [[ -s $log ]]; then
      echo "--- the server's log (last 40 lines; all of it in $log) ---" >&2
      tail -n 40 "$log" >&2
    fi
    echo "python-client: FAILED; the server's data and log are kept in $work" >&2
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

"${clean[@]}" \
  HOMEWARD_AUTH__DEV_MODE=true \
  HOMEWARD_DATA_DIR="$work/data" \
  HOMEWARD_REGISTRY__LISTEN=127.0.0.1:0 \
  HOMEWARD_EXCHANGE__LISTEN=127.0.0.1:0 \
  HOMEWARD_NOTIFICATION__LISTEN=127.0.0.1:0 \
  HOMEWARD_TELEMETRY__LOG_FORMAT=json \
  "$homeward" >"$log" 2>&1 &
server=$!

ready=$("$python" clients/python/wait_ready.py --log "$log" --pid "$server" \
  --timeout "${READY_TIMEOUT:-60}") || fail "the server did not start"
registry=$(sed -n 's/^registry=//p' <<<"$ready")
exchange=$(sed -n 's/^exchange=//p' <<<"$ready")
notification=$(sed -n 's/^notification=//p' <<<"$ready")
addresses=(--registry "$registry" --exchange "$exchange" --notification "$notification"
  --homewardctl "$homewardctl")

# 5. The clients. Both run even if the first fails, so one run shows every problem.
failed=0
"${clean[@]}" "$python" clients/python/scenario.py "${addresses[@]}" || failed=1
"${clean[@]}" "$python" clients/python/reflect.py "${addresses[@]}" || failed=1

# 6. A graceful stop: SIGTERM, then the server must exit 0 within the grace period.
kill -TERM "$server"
running() { # alive and not a zombie waiting to be reaped
  kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}
stopped=0
for _ in $(seq 1 150); do
  if ! running "$server"; then
    stopped=1
    break
  fi
  sleep 0.1
done
if [[ $stopped == 0 ]]; then
  kill -KILL "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
  fail "the server did not stop within 15 s of SIGTERM"
fi
code=0
wait "$server" || code=$?
server=
[[ $code == 0 ]] || fail "the server exited with status $code after SIGTERM"

[[ $failed == 0 ]] || fail "the Python client found problems (above)"
ok=1
echo "python-client: passed in $((SECONDS - started)) s" \
  "(registry $registry, exchange $exchange, notification $notification)"
