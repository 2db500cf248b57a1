#!/usr/bin/env bash
# Entrypoint of the SuperInsight image (PID 2, under tini).
#
# 1. Checks the configuration it needs and fills in derived settings.
# 2. Creates the PostgreSQL cluster, role and database on first start (owned by this user).
# 3. Starts the command (supervisord) in the background and turns SIGTERM/SIGINT into an
#    ordered, draining shutdown (graceful-shutdown.sh), then exits with the command's status.
set -euo pipefail

log() { printf '%s entrypoint: %s\n' "$(date -u +%FT%TZ)" "$*"; }
die() { log "error: $*"; exit 64; }

: "${POSTGRES_DB:=superinsight}"
: "${POSTGRES_USER:=superinsight}"
: "${WORKERS:=2}"
[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not set; pass it as a secret environment variable"
[ -n "${SECRET_KEY:-}" ] || die "SECRET_KEY is not set; pass it as a secret environment variable"
[ "$(id -u)" != 0 ] || die "refusing to run as root; the image runs as its superinsight user"

export POSTGRES_DB POSTGRES_USER WORKERS
export DATABASE_URL="postgresql://${POSTGRES_USER}:${POSTGRES_PASSWORD}@127.0.0.1:${PGPORT}/${POSTGRES_DB}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}"
# Label Studio reads its database from POSTGRE_* when DJANGO_DB=default.
export POSTGRE_NAME="$POSTGRES_DB" POSTGRE_USER="$POSTGRES_USER" POSTGRE_PASSWORD="$POSTGRES_PASSWORD"
export POSTGRE_HOST=127.0.0.1 POSTGRE_PORT="$PGPORT"
export LABEL_STUDIO_USERNAME="${LABEL_STUDIO_USERNAME:-}" LABEL_STUDIO_PASSWORD="${LABEL_STUDIO_PASSWORD:-}"

init_postgres() {
  if [ -s "$PGDATA/PG_VERSION" ]; then
    return 0
  fi
  log "creating the PostgreSQL cluster in $PGDATA"
  local password_file
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$password_file" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$password_file"
  pg_ctl --pgdata="$PGDATA" --options="-k /run/superinsight -c listen_addresses=''" --wait start >/dev/null
  PGPASSWORD="$POSTGRES_PASSWORD" psql --username="$POSTGRES_USER" --dbname=postgres \
    --set=ON_ERROR_STOP=1 --quiet \
    --command="CREATE DATABASE \"${POSTGRES_DB}\" OWNER \"${POSTGRES_USER}\""
  pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop >/dev/null
  log "PostgreSQL cluster ready"
}

init_postgres
rm -f "$SUPERINSIGHT_DRAIN_MARKER"

"$@" &
child=$!

shutdown() {
  log "signal received: draining and stopping services in order"
  graceful-shutdown.sh || log "graceful shutdown reported a problem; stopping anyway"
  kill -TERM "$child" 2>/dev/null || true
}
trap shutdown TERM INT

# `wait` returns early when a trapped signal arrives; wait again for the real exit status.
status=0
wait "$child" || status=$?
while kill -0 "$child" 2>/dev/null; do
  wait "$child" || status=$?
done
log "exited with status $status"
exit "$status"
