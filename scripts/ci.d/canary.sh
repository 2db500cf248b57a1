# Tools for the canary tests: a real Prometheus (Debian's package; tests/support/prometheus.rs
# starts it on loopback with a 1 s scrape of the emulator's /metrics and stops it by pid).
# Pinned to Debian 12's build, the version the Prometheus API notes were checked against.
if ! command -v prometheus >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        'prometheus=2.42.0+ds-5+deb12u1'
fi
