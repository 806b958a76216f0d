#!/bin/sh
# One-shot (temporalio/admin-tools): creates Temporal's two Postgres databases
# and brings their schemas to the version this admin-tools image ships.
# Safe to run on every `docker compose up`: `create` and `setup-schema -v 0.0`
# fail harmlessly on a database that already has them, and `update-schema`
# applies only the versions that are missing (a real failure, such as a wrong
# password, still fails there).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
port="${DB_PORT:-5432}"
schema_dir=/etc/temporal/schema/postgresql/v12

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" "$@"
}

for pair in "temporal:temporal" "temporal_visibility:visibility"; do
  db="${pair%%:*}"
  dir="${pair#*:}"
  sql --db "$db" create || echo "database $db already exists"
  sql --db "$db" setup-schema -v 0.0 || echo "database $db already has a schema version table"
  sql --db "$db" update-schema -d "$schema_dir/$dir/versioned"
done
echo "Temporal schemas are up to date"
