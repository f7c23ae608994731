#!/usr/bin/env bash
# The main workflow end to end, on an image made here from Debian's busybox-static:
# import → run and change → commit with message and change → history/diff → run the
# new image → save → podman load + podman run of the same image.
# Uses a fresh store in a temp dir (TSRUN_ROOT to keep it), so it can be run again.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/tsrun-demo.XXXXXX)
export TSRUN_ROOT=${TSRUN_ROOT:-$work/root}
tsrun() { node bin/tsrun "$@"; }
cleanup() {
  node bin/tsrun rm -f demo >/dev/null 2>&1 || true
  [ -n "${PODMAN_DIR:-}" ] && podman --root "$PODMAN_DIR/graph" --runroot "$PODMAN_DIR/run" rmi -af >/dev/null 2>&1 || true
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

scripts/make-busybox-rootfs.sh "$work/busybox.tar"
step tsrun import busybox.tar busybox:latest
tsrun import "$work/busybox.tar" busybox:latest
step tsrun images
tsrun images
step "tsrun run --name demo busybox sh -c 'echo hello from tsrun > /greeting; rm /etc/issue; mkdir -p /srv/app && echo data > /srv/app/file'"
tsrun run --name demo busybox sh -c 'echo hello from tsrun > /greeting; rm /etc/issue; mkdir -p /srv/app && echo data > /srv/app/file'
step tsrun diff demo
tsrun diff demo
step "tsrun commit -m 'add a greeting' -c 'CMD [\"cat\", \"/greeting\"]' demo myimage:v1.1"
tsrun commit -m 'add a greeting' -c 'CMD ["cat", "/greeting"]' demo myimage:v1.1
step tsrun history myimage:v1.1
tsrun history myimage:v1.1
step tsrun run --rm myimage:v1.1
out=$(tsrun run --rm myimage:v1.1)
echo "$out"
[ "$out" = "hello from tsrun" ] || { echo "demo: the committed image did not print its greeting" >&2; exit 1; }
step tsrun save -o myimage.tar myimage:v1.1
tsrun save -o "$work/myimage.tar" myimage:v1.1
ls -l "$work/myimage.tar"
if command -v podman >/dev/null; then
  PODMAN_DIR=$work/podman
  mkdir -p "$PODMAN_DIR"
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "none"\n[engine]\nruntime = "runc"\nevents_logger = "none"\n' > "$PODMAN_DIR/containers.conf"
  export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
  p() { podman --root "$PODMAN_DIR/graph" --runroot "$PODMAN_DIR/run" --cgroup-manager cgroupfs "$@"; }
  step podman load -i myimage.tar
  p load -i "$work/myimage.tar"
  step podman run --rm myimage:v1.1
  p run --rm localhost/myimage:v1.1 2>/dev/null || p run --rm myimage:v1.1
  p rmi -af >/dev/null 2>&1 || true
fi
printf '\ndemo: done\n'
