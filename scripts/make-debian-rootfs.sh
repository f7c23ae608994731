#!/usr/bin/env bash
# Build a minimal Debian bookworm root filesystem tarball with debootstrap (--variant=minbase),
# from the mirror apt already uses on this machine (deb.debian.org unless its sources say otherwise).
# Usage: scripts/make-debian-rootfs.sh OUT.tar
# Slow (minutes: downloads and unpacks ~90 packages), so tests cache it in test/fixtures/.cache and
# build it once per clean machine. The tar is sorted with fixed owners (numeric) so that importing it
# gives one image per build of it; the package versions are whatever the mirror serves that day.
set -euo pipefail
out=${1:?usage: make-debian-rootfs.sh OUT.tar}
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\/debian\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
work=$(mktemp -d /var/tmp/tsrun-debootstrap.XXXXXX)
trap 'umount -R "$work/rootfs/proc" "$work/rootfs/sys" 2>/dev/null || true; rm -rf "$work"' EXIT
start=$(date +%s)
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/log" 2>&1 || { tail -20 "$work/log" >&2; exit 1; }
r=$work/rootfs
# The same sources a container's apt-get reads; no package cache in the image.
printf 'deb %s bookworm main\n' "$mirror" > "$r/etc/apt/sources.list"
rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/var/log/*.log "$r"/var/log/apt/* "$r/debootstrap"
tmp=$out.tmp.$$
tar --sort=name --numeric-owner --xattrs --mtime=@0 --clamp-mtime -C "$r" -cf "$tmp" .
mv "$tmp" "$out"
echo "make-debian-rootfs: $(du -h "$out" | cut -f1) in $(( $(date +%s) - start ))s from $mirror" >&2
