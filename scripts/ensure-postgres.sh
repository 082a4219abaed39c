#!/usr/bin/env bash
# Makes sure the PostgreSQL server the tests use is up (127.0.0.1:5432), starting the local
# cluster when it is down. Fails loudly when it cannot: PostgreSQL tests never skip.
set -euo pipefail

url="${HOMEWARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if pg_isready -q -d "$url" 2>/dev/null; then
    exit 0
fi
if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | head -n 1)
    echo "starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 30); do
    pg_isready -q -d "$url" 2>/dev/null && exit 0
    sleep 1
done
echo "PostgreSQL is not reachable at $url; the tests need it" >&2
exit 1
