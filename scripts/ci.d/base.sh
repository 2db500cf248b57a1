#!/usr/bin/env bash
# base: what every part's tests need. The container engine from Debian's packages (podman,
# buildah, runc, skopeo and the docker-registry server; there is no Docker daemon and no image
# can be pulled), configured the one way that works on these machines, and the Rust components
# the test command runs (rustfmt, clippy).
# Sourced by .ci/run before the other scripts/ci.d/*.sh. Idempotent: installs only what is
# missing and rewrites a configuration file only when its content differs. Debian packages come
# from the machine's release (bookworm), which fixes their versions.

base_apt_packages=(podman buildah runc skopeo docker-registry conmon containernetworking-plugins
    uidmap binutils git ca-certificates)

base_missing_apt_packages() {
    local package
    for package in "${base_apt_packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$' \
            || echo "$package"
    done
}

base_install_apt() {
    local missing
    mapfile -t missing < <(base_missing_apt_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "base: Debian packages present"
        return 0
    fi
    echo "base: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

base_install_rust_components() {
    local installed
    installed=$(rustup component list --installed)
    grep -q '^rustfmt' <<<"$installed" || rustup component add rustfmt
    grep -q '^clippy' <<<"$installed" || rustup component add clippy
}

# base_write_if_changed <path>: stdin becomes the file's content unless it already is.
base_write_if_changed() {
    local path=$1 content
    content=$(cat)
    if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$path")"
    printf '%s\n' "$content" >"$path"
    echo "base: wrote $path"
}

base_configure_podman() {
    # crun fails here ("cgroups in hybrid mode not supported"); the default ulimits cannot be set
    # in this sandbox ("setrlimit RLIMIT_NOFILE: Operation not permitted").
    base_write_if_changed /etc/containers/containers.conf <<'CONF'
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"

[containers]
default_ulimits = []
CONF
    # overlay is not available inside this sandbox; vfs always works.
    base_write_if_changed /etc/containers/storage.conf <<'CONF'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
    # The loopback registry the build and push tests start speaks plain HTTP.
    base_write_if_changed /etc/containers/registries.conf <<'CONF'
[[registry]]
location = "127.0.0.1:5000"
insecure = true
CONF
}

base_install_apt
base_install_rust_components
base_configure_podman
