#!/usr/bin/env bash
# Tools for tests/metadata.rs. check-jsonschema validates every action.yml against GitHub's action
# schema and the example workflows against the workflow schema (the SchemaStore schemas are
# vendored in the wheel, so validation works offline). Sourced by .ci/run; idempotent.

METADATA_CHECK_JSONSCHEMA_VERSION=0.39.0

metadata_install_check_jsonschema() {
  local spec="check-jsonschema==$METADATA_CHECK_JSONSCHEMA_VERSION"
  local pip=(python3 -m pip install --quiet --disable-pip-version-check)
  # A Debian system Python refuses plain installs (PEP 668); fall back to its documented escape.
  "${pip[@]}" "$spec" || "${pip[@]}" --break-system-packages "$spec"
  # pip may put the script where PATH does not look (a user or venv scripts directory).
  if ! command -v check-jsonschema >/dev/null; then
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
    export PATH
  fi
}

if [ "$(check-jsonschema --version 2>/dev/null | awk '{print $NF}')" != "$METADATA_CHECK_JSONSCHEMA_VERSION" ]; then
  metadata_install_check_jsonschema
fi

# zizmor audits the example workflows (tests/metadata.rs, offline).
METADATA_ZIZMOR_VERSION=1.32.0
if [ "$(zizmor --version 2>/dev/null | awk '{print $NF}')" != "$METADATA_ZIZMOR_VERSION" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "zizmor==$METADATA_ZIZMOR_VERSION" ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
      "zizmor==$METADATA_ZIZMOR_VERSION"
fi
