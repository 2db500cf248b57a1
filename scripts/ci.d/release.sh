#!/usr/bin/env bash
# Tools for tests/release.rs: the git CLI makes a shallow clone (release-semver must refuse it).
# Everything else in those tests uses libgit2 through git2. Sourced by .ci/run; idempotent.
if ! command -v git >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y --no-install-recommends git
fi
