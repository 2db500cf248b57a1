# GitHub reporting tests (tests/github.rs) need GitHub's full REST description, pinned: npm
# @octokit/openapi 23.0.2, the package the subset in ../shared/spec/github/ was extracted from.
# The tests check that the subset is faithful to it and that every request the client makes is
# valid on the oldest GitHub Enterprise Server it describes (ghes-3.17). Idempotent: installs
# only when the pinned version is missing. Sourced by .ci/run from the repository root.
github_octokit_version=23.0.2
github_octokit_prefix="${CARGO_TARGET_DIR:-$PWD/target}/octokit-openapi"
github_octokit_dir="$github_octokit_prefix/node_modules/@octokit/openapi"
if [ "$(node -p "require('$github_octokit_dir/package.json').version" 2>/dev/null || true)" != "$github_octokit_version" ]; then
    npm install --no-audit --no-fund --prefix "$github_octokit_prefix" "@octokit/openapi@$github_octokit_version"
fi
export OCTOKIT_OPENAPI_DIR="$github_octokit_dir"
