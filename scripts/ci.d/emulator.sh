# Tools for the emulator tests: the official Tencent Cloud Python SDK drives
# `deploy-tcb emulator` end to end (tests/python/sdk_e2e.py, run from tests/emulator.rs).
# Pinned: the version whose wire format the reference (§11) verified.
if ! python3 -c 'import tencentcloud.tcbr.v20220217.tcbr_client, tencentcloud.common.common_client' 2>/dev/null; then
    python3 -m pip install --quiet 'tencentcloud-sdk-python==3.1.195'
fi

# The engine tests (tests/emulator_engine.rs) run busybox's static httpd as the real app in a
# `FROM scratch` image; podman, buildah and docker-registry come from base.sh. busybox-static
# replaces a dynamically linked busybox (which cannot run in an empty image).
if ! dpkg-query -W -f='${Status}\n' busybox-static 2>/dev/null | grep -q '^install ok installed$'; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static
fi
