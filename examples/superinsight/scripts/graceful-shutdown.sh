#!/usr/bin/env bash
# graceful-shutdown.sh: ordered shutdown on SIGTERM (called by entrypoint.sh).
#
# 1. Marks the instance as draining: /readyz and the health check fail, so the platform's
#    gateway stops sending new requests.
# 2. Waits SHUTDOWN_DRAIN_SECONDS for the gateway to notice and in-flight requests to finish.
# 3. Stops the programs in reverse start-up order: api, label-studio, redis (saves its data),
#    postgres (fast shutdown with a checkpoint). Each stop waits for the program's own
#    stopwaitsecs from supervisord.conf.
# The platform's grace period must cover the drain plus the stops (about 60 s by default).
set -uo pipefail

drain=${SHUTDOWN_DRAIN_SECONDS:-10}
marker=${SUPERINSIGHT_DRAIN_MARKER:-/run/superinsight/draining}
ctl=(supervisorctl --configuration /etc/superinsight/supervisord.conf)

log() { printf '%s graceful-shutdown: %s\n' "$(date -u +%FT%TZ)" "$*"; }

touch "$marker"
log "draining for ${drain}s"
sleep "$drain"

status=0
for program in api label-studio redis postgres; do
  log "stopping $program"
  "${ctl[@]}" stop "$program" || status=1
done
log "all programs stopped"
exit "$status"
