#!/usr/bin/env bash
# Benchmark security-scan against `sarif-multitool merge` on generated scanner SARIF.
# Usage: scripts/bench/scan.sh [MiB]   (default 200; needs /usr/bin/time for peak memory)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci.d/scan.sh   # installs the pinned sarif-multitool when it is missing
SCAN_BENCH_MB="${1:-200}" cargo bench --bench scan
