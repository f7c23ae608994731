#!/usr/bin/env bash
# The arm64 busybox root filesystem (the fixture of the --platform linux/arm64 tests): Debian's
# busybox-static:arm64, fetched with apt from this machine's configured Debian mirror into a private
# apt state (no `dpkg --add-architecture`: the machine's package lists and dpkg stay as they are),
# unpacked with dpkg-deb, and laid out as scripts/make-busybox-rootfs.sh lays out the host's.
# Usage: scripts/make-busybox-rootfs-arm64.sh OUT.tar
set -euo pipefail
out=${1:?usage: make-busybox-rootfs-arm64.sh OUT.tar}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the mirror apt uses here (deb822 sources, else a one-line sources.list), deb.debian.org if none
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/*[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\(http[^[:space:]]*\/debian\)\/*[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/state" "$work/parts"
: > "$work/status"
echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$work/sources.list"
apt_opts=(-q -o "Dir::State=$work/state" -o "Dir::State::Lists=$work/lists" -o "Dir::State::status=$work/status"
  -o "Dir::Cache=$work/cache" -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Acquire::Languages=none -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_opts[@]}" download busybox-static:arm64 >/dev/null)
deb=$(ls "$work"/busybox-static_*_arm64.deb)
dpkg-deb -x "$deb" "$work/pkg"
machine=$(od -An -tx1 -j18 -N2 "$work/pkg/bin/busybox" | tr -d ' \n')
[ "$machine" = b700 ] || { echo "make-busybox-rootfs-arm64: $deb holds no aarch64 busybox (e_machine $machine)" >&2; exit 1; }
BUSYBOX="$work/pkg/bin/busybox" "$here/make-busybox-rootfs.sh" "$out"
