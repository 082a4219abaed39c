#!/usr/bin/env bash
# Run by the postgres image once, when its data volume is first initialised: one login role and
# one database per service, each role owning its database and nothing else, and nobody else
# allowed to connect to it. Passwords come from the container's environment (deploy/compose/.env).
set -Eeo pipefail

create_service_database() {
    local role=$1 database=$2 password=$3
    if [[ -z "$password" ]]; then
        echo "init-databases: no password for role $role" >&2
        return 1
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="$role" -v database="$database" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
}

create_service_database registry homeward_registry "${REGISTRY_DB_PASSWORD:-}"
create_service_database exchange homeward_exchange "${EXCHANGE_DB_PASSWORD:-}"
create_service_database notification homeward_notification "${NOTIFICATION_DB_PASSWORD:-}"
