#!/usr/bin/env bash
# Installs every build and test dependency of qextfs from Debian's packages (needs root).
# Idempotent. With --if-missing it does nothing when everything is already installed.
set -euo pipefail

# Beyond the libraries, what the tests run: tmux (editors in a terminal), script (bsdutils),
# ss (iproute2), mountpoint and umount (util-linux, mount), getfattr (attr), zipinfo (unzip),
# openssl (TLS certificates), python3 (JSON and zip helpers), clang (fuzz targets).
PKGS=(build-essential pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev libcjson-dev
      libzip-dev zlib1g-dev libmicrohttpd-dev libcmocka-dev libyaml-dev bats rsync vim nano zip unzip
      attr curl valgrind tmux python3 cppcheck clang-format procps psmisc bsdextrautils openssl
      clang libclang-rt-14-dev iproute2 bsdutils util-linux mount)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${1:-}" = "--if-missing" ] && [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: everything is installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
