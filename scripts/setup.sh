#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine, as root:
#  - Debian packages tsrun and its tests need (only those missing are installed)
#  - npm dependencies, the native build (node-gyp) and the TypeScript build
#  - the busybox rootfs fixture
# Safe to run again: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (tsrun needs mounts and namespaces)" >&2; exit 1; }

# Runtime needs: busybox-static (the demo image), zstd (zstd layers), libseccomp-dev (tsrun-init links it
# statically), libjson-c-dev (tsrun-runtime reads config.json with it, statically linked),
# libdeflate-dev (push's gzip in the addon; links libdeflate0 dynamically), build tools.
# Test peers: podman, skopeo, umoci, crun, runc, containerd (started privately by its test), docker-registry, apache2-utils (htpasswd), openssl,
# uidmap (podman), util-linux (script) and tmux (terminal tests), iproute2, procps, attr, libcap2-bin.
# Networking: netavark (bridges, NAT, port forwarding) and aardvark-dns (names on user networks).
# Credential helper tests: jq (the fake helpers' JSON).
# systemd: systemd-analyze checks the shipped tsrun-restart.service (restart-boot test).
# Builds: bzip2 and xz-utils (ADD unpacks .bz2/.xz archives with them); debootstrap (the Debian test fixture);
# openssh-client (build --ssh KEYFILE runs ssh-agent; the ssh test's agent and keys); git (git contexts and ADD of git URLs);
# openssh-server (build-git-ssh's private sshd on 127.0.0.1; the system's ssh service is not started, nor enabled at boot).
# docker.io: the commit benchmark's `docker commit` and the docker interop test, each on a private dockerd
# (never the system one: see below). qemu-user-static + binfmt-support: --platform linux/arm64 (emulated RUN/run).
PKGS=(busybox-static jq zstd bzip2 xz-utils debootstrap openssh-client openssh-server git libseccomp-dev libjson-c-dev libdeflate-dev build-essential python3 make g++ pkg-config
      podman skopeo umoci crun runc containerd docker-registry apache2-utils openssl uidmap
      util-linux iproute2 procps attr libcap2-bin time tmux netavark aardvark-dns systemd
      docker.io qemu-user-static binfmt-support)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # no service a package brings may start while it installs (docker.io's dockerd would set up docker0
  # and iptables rules on this machine): a policy-rc.d that denies starts, ours only if there was none
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  # and none starts at the next boot either: the bench and tests start their own dockerd
  if [[ " ${missing[*]} " == *" docker.io "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
  fi
  if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi
# Go 1.23 (bookworm-backports; bookworm's own golang is 1.19): the template tests render every case with
# Go's own text/template and compare, and test/unit/tar-go.test.ts compares tsrun's tar reader with Go's
# archive/tar (a std-only program in test/go, built with GOTOOLCHAIN=local GOPROXY=off). The source line names deb.debian.org as this machine's deb822
# sources do (a mirror parsed from /etc/apt/sources.list would find nothing here).
if [ ! -x /usr/lib/go-1.23/bin/go ]; then
  echo "setup: installing golang-1.23-go from bookworm-backports"
  [ -f /etc/apt/sources.list.d/bookworm-backports.list ] ||
    echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports golang-1.23-go >/dev/null
fi
# The Debian docker-registry package starts a system registry on :5000; tests start their own.
if systemctl is-active --quiet docker-registry 2>/dev/null; then systemctl stop docker-registry || true; fi
# Likewise Debian's containerd starts a system daemon; its test runs a private one.
if systemctl is-active --quiet containerd 2>/dev/null; then systemctl stop containerd || true; fi

# Emulation for --platform linux/arm64: binfmt_misc mounted, and an aarch64 handler with Debian's flags
# (F: the kernel opens qemu when registering, so it is found inside containers). Registered only when no
# handler claims aarch64 programs yet; nothing registered by others is changed.
binfmt=/proc/sys/fs/binfmt_misc
[ -e $binfmt/status ] || mount -t binfmt_misc binfmt_misc $binfmt || echo "setup: cannot mount binfmt_misc: --platform linux/arm64 will not work" >&2
if [ -e $binfmt/register ] && ! grep -qs '^magic 7f454c460201010000000000000000000200b700' $binfmt/*; then
  update-binfmts --enable qemu-aarch64 || echo "setup: update-binfmts --enable qemu-aarch64 failed: --platform linux/arm64 will not work" >&2
fi

# npm deps + native build + tsc. `npm ci` runs the root package's install (node-gyp) and prepare (tsc)
# scripts; skip it when the lock file has not changed since the last successful run.
stamp=node_modules/.tsrun-setup-stamp
want=$(sha256sum package-lock.json binding.gyp | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f build/Release/tsrun_native.node ] || [ ! -x build/Release/tsrun-init ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
else
  npx --no-install node-gyp build >/dev/null  # local node-gyp (devDependency): cheap when nothing changed, picks up edited C sources
fi
npx tsc -p tsconfig.json
node scripts/bundle.js  # the start-up bundle bin/tsrun loads (it falls back to dist/src when this is stale)

mkdir -p test/fixtures/.cache
[ -f test/fixtures/.cache/busybox-rootfs.tar ] || scripts/make-busybox-rootfs.sh test/fixtures/.cache/busybox-rootfs.tar
# busybox-static:arm64 from the Debian mirror (the --platform tests' arm64 image; ~1 MB, a private apt state)
[ -f test/fixtures/.cache/busybox-arm64-rootfs.tar ] || scripts/make-busybox-rootfs-arm64.sh test/fixtures/.cache/busybox-arm64-rootfs.tar
# Debian bookworm minbase for the build tests (~30 s here; built once per clean machine, then cached)
[ -f test/fixtures/.cache/debian-rootfs.tar ] || scripts/make-debian-rootfs.sh test/fixtures/.cache/debian-rootfs.tar
echo "setup: ready"
