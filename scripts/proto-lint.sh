#!/usr/bin/env bash
# Lints and compiles Homeward's gRPC contracts with buf. buf comes from npm, pinned, into the
# repository's git-ignored .tools/ folder, so nothing is installed system-wide and, after the
# first run, the check works offline. Exits non-zero on any lint finding or compile error.
set -euo pipefail

# Bump deliberately: a new buf release can add lint rules and turn a green check red.
BUF_VERSION="1.75.0"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool_dir="$repo/.tools/buf"
buf="$tool_dir/node_modules/.bin/buf"

installed_version() {
  [[ -x "$buf" ]] && "$buf" --version 2>/dev/null || true
}

if [[ "$(installed_version)" != "$BUF_VERSION" ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "proto-lint: npm is needed once to install buf $BUF_VERSION into $tool_dir" >&2
    exit 2
  fi
  echo "proto-lint: installing buf $BUF_VERSION into $tool_dir" >&2
  mkdir -p "$tool_dir"
  # --no-save keeps npm from writing a package.json we would then have to maintain.
  npm install --prefix "$tool_dir" --no-save --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION" >&2
  if [[ "$(installed_version)" != "$BUF_VERSION" ]]; then
    echo "proto-lint: buf $BUF_VERSION did not install (got '$(installed_version)')" >&2
    exit 2
  fi
fi

cd "$repo/proto"
# buf keeps a cache under $HOME; keep it with the tool so a read-only or odd HOME is no problem.
export BUF_CACHE_DIR="${BUF_CACHE_DIR:-$repo/.tools/buf/cache}"

# Build first: lint findings on files that do not compile would only add noise.
echo "proto-lint: buf build" >&2
if ! "$buf" build --error-format=text -o /dev/null; then
  echo "proto-lint: the contracts do not compile (errors above)" >&2
  exit 1
fi
echo "proto-lint: buf lint" >&2
if ! "$buf" lint --error-format=text; then
  echo "proto-lint: buf lint found problems (above); fix them in the .proto files" >&2
  exit 1
fi
echo "proto-lint: ok (buf $BUF_VERSION)" >&2
