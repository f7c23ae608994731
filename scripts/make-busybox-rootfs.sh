#!/usr/bin/env bash
# Build a small busybox root filesystem tarball from Debian's busybox-static.
# Usage: scripts/make-busybox-rootfs.sh OUT.tar
# BUSYBOX=/path/to/busybox puts that binary in instead (another architecture's: the applet list
# still comes from this machine's busybox-static, the same Debian build).
# The tarball is deterministic (sorted names, fixed mtimes and owners) so that
# the image ID it imports as is stable across runs.
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
binary=${BUSYBOX:-$bb}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r=$work/rootfs
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,proc,sys,dev,var/log,run}
chmod 1777 "$r/tmp"
chmod 700 "$r/root"
cp "$binary" "$r/bin/busybox"
for applet in $("$bb" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$r/$(dirname "$applet")"
  ln -sf /bin/busybox "$r/$applet"
done
cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
P
cat > "$r/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
wheel:x:10:app
audio:x:29:app
nogroup:x:65534:
app:x:1000:
G
mkdir -p "$r/home/app" && chown 1000:1000 "$r/home/app"
echo 'tsrun-busybox' > "$r/etc/issue"
tar --sort=name --mtime='2024-01-01 00:00:00Z' --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$r" -cf "$out.tmp" .
mv "$out.tmp" "$out"
