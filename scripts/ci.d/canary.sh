# Tools for the canary tests: a real Prometheus (Debian's package; tests/support/prometheus.rs
# starts it on loopback with a 1 s scrape of the emulator's /metrics and stops it by pid).
# Pinned to Debian 12's build, the version the Prometheus API notes were checked against.
if ! command -v prometheus >/dev/null 2>&1; then
    apt-get update -qq
    # A point release can replace the pinned build on the mirror; then take the current one.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        'prometheus=2.42.0+ds-5+deb12u1' ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi
# The package starts its own service on :9090 where an init system runs; the tests start their
# own on a free port, so stop a packaged one that would only use memory.
command -v systemctl >/dev/null 2>&1 && systemctl stop prometheus 2>/dev/null || true
