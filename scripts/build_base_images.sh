#!/usr/bin/env bash
# The three base images of docker-compose.yml and the Dockerfile, on a machine that may reach
# no image registry. For each of python:3.11-slim-bookworm, redis:7 and haproxy:2.6:
#
#   1. the official image, if the engine has it or `docker pull` gets it;
#   2. else a local stand-in built from Debian's packages: `debootstrap --variant=minbase` of
#      this machine's Debian release, `docker import`ed as mcp-scale-base/debian:<release>-minbase,
#      then deploy/base-images/<name>.Dockerfile on top (Debian's python3.11, redis-server 7,
#      haproxy 2.6), tagged mcp-scale-base/<name>:<tag>. An image that exists is not rebuilt.
#
#   scripts/build_base_images.sh          # prints the variables to use, e.g.
#                                         #   MCP_SCALE_PYTHON_IMAGE=mcp-scale-base/python:3.11-slim-bookworm
#   eval "$(scripts/build_base_images.sh)" && export MCP_SCALE_PYTHON_IMAGE MCP_SCALE_REDIS_IMAGE MCP_SCALE_HAPROXY_IMAGE
#
# docker-compose.yml reads those variables (their defaults are the official images), so where
# a registry answers nothing of this is needed. Stand-ins need root (debootstrap) and Debian's
# mirror; progress goes to stderr, the variables to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MCP_SCALE_STATE_DIR:-$HOME/.mcp-scale}"
MIRROR="${MCP_SCALE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RELEASE="${MCP_SCALE_DEBIAN_RELEASE:-$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")}"
MINBASE="mcp-scale-base/debian:${RELEASE}-minbase"

say() { printf 'base-images: %s\n' "$*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

minbase() {
    have "$MINBASE" && return 0
    command -v debootstrap >/dev/null 2>&1 || {
        [ "$(id -u)" = 0 ] || { say "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
        say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
    [ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 1; }
    local dir
    mkdir -p "$STATE"
    dir="$(mktemp -d "$STATE/debootstrap.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$dir'" EXIT
    say "debootstrap --variant=minbase $RELEASE (a minute or two) -> $MINBASE"
    debootstrap --variant=minbase "$RELEASE" "$dir/rootfs" "$MIRROR" >"$dir/log" 2>&1 \
        || { tail -20 "$dir/log" >&2; exit 1; }
    rm -rf "$dir/rootfs/var/cache/apt/archives/"*.deb "$dir/rootfs/var/lib/apt/lists/"*
    tar -C "$dir/rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$MINBASE" >/dev/null
    rm -rf "$dir"
    trap - EXIT
}

# official name, stand-in Dockerfile, variable
pick() {
    local official="$1" recipe="$2" variable="$3" name tag standin
    name="${official%%:*}"
    tag="${official#*:}"
    standin="mcp-scale-base/${name}:${tag}"
    if have "$official"; then
        say "$official: present"
        echo "$variable=$official"
    elif [ "${MCP_SCALE_STANDINS:-auto}" != always ] && timeout 120 docker pull -q "$official" >/dev/null 2>&1; then
        say "$official: pulled"
        echo "$variable=$official"
    elif have "$standin"; then
        say "$official: no registry; stand-in $standin (cached)"
        echo "$variable=$standin"
    else
        minbase
        say "$official: no registry; building stand-in $standin from Debian packages"
        local context
        context="$(mktemp -d)"
        cp "$ROOT/deploy/base-images/$recipe" "$context/Dockerfile"
        mkdir "$context/ca"
        cp /usr/local/share/ca-certificates/*.crt "$context/ca/" 2>/dev/null || true
        touch "$context/ca/.keep"
        docker build -q --build-arg "BASE=$MINBASE" -t "$standin" "$context" >/dev/null \
            || { rm -rf "$context"; say "building $standin failed"; exit 1; }
        rm -rf "$context"
        echo "$variable=$standin"
    fi
}

pick python:3.11-slim-bookworm python.Dockerfile MCP_SCALE_PYTHON_IMAGE
pick redis:7 redis.Dockerfile MCP_SCALE_REDIS_IMAGE
pick haproxy:2.6 haproxy.Dockerfile MCP_SCALE_HAPROXY_IMAGE
