#!/usr/bin/env bash
# wait-for-services.sh SERVICE... -- COMMAND [ARG...]
#
# Waits until every named service answers, then replaces itself with COMMAND. Services:
#   postgres      pg_isready on the local socket
#   redis         PING answered with PONG
#   api           GET /healthz on the API port
#   label-studio  GET /health on the Label Studio port
# WAIT_TIMEOUT (seconds, default 120) bounds the wait; on timeout it exits 1 so supervisor
# retries the program (startretries) instead of starting it against a missing dependency.
set -euo pipefail

timeout=${WAIT_TIMEOUT:-120}
services=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  services+=("$1")
  shift
done
[ "${1:-}" = "--" ] || { echo "usage: wait-for-services.sh SERVICE... -- COMMAND" >&2; exit 64; }
shift
[ "$#" -gt 0 ] || { echo "wait-for-services.sh: no command after --" >&2; exit 64; }

http_ok() {
  python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
        sys.exit(0 if response.status < 400 else 1)
except Exception:
    sys.exit(1)
PY
}

redis_ok() {
  [ "$(redis-cli -h 127.0.0.1 -p "${REDIS_PORT:-6379}" ping 2>/dev/null)" = "PONG" ]
}

ready() {
  case "$1" in
    postgres) pg_isready --quiet --host=/run/superinsight --port="${PGPORT:-5432}" ;;
    redis) redis_ok ;;
    api) http_ok "http://127.0.0.1:${API_PORT:-8000}/healthz" ;;
    label-studio) http_ok "http://127.0.0.1:${LABEL_STUDIO_PORT:-8080}/health" ;;
    *) echo "wait-for-services.sh: unknown service '$1'" >&2; exit 64 ;;
  esac
}

deadline=$((SECONDS + timeout))
for service in "${services[@]}"; do
  until ready "$service"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "wait-for-services.sh: $service not ready after ${timeout}s" >&2
      exit 1
    fi
    sleep 1
  done
  echo "wait-for-services.sh: $service is ready"
done
exec "$@"
