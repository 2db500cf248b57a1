#!/usr/bin/env bash
# health-check.sh: the image's HEALTHCHECK. Healthy means every service answers and the
# instance is not draining; a draining instance reports unhealthy on purpose, so the platform
# stops routing new requests to it while in-flight ones finish.
set -euo pipefail

if [ -e "${SUPERINSIGHT_DRAIN_MARKER:-/run/superinsight/draining}" ]; then
  echo "draining"
  exit 1
fi
failed=()
for service in postgres redis api label-studio; do
  WAIT_TIMEOUT=0 wait-for-services.sh "$service" -- true >/dev/null 2>&1 || failed+=("$service")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "unhealthy: ${failed[*]}"
  exit 1
fi
echo "healthy"
