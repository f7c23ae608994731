# Builds the two native artefacts into build/Release/ (see DESIGN.md, "native/"):
#   tsrun_native.node  the N-API addon loaded only by src/native.ts
#   tsrun-init         the static launcher: carries out an OCI spec (namespaces, mounts, exec)
#   tsrun-runtime      the OCI runtime CLI (runc's command line; native/runtime/), built on
#                      the launcher's filesystem, seccomp and cgroup code and the spec reader
# `npm install` runs `node-gyp rebuild`, which reads this file.
{
  "variables": {
    # Link tsrun-init statically when the static libc and libseccomp exist:
    # it then runs in any rootfs and cannot pick up a container's libraries.
    # `cc -print-file-name=X` prints a path only when X is found.
    "tsrun_static%": "<!(sh -c 'cc -print-file-name=libseccomp.a | grep -q / && cc -print-file-name=libc.a | grep -q / && echo 1 || echo 0')",
  },
  "targets": [
    {
      "target_name": "tsrun_native",
      "sources": [
        "native/addon/addon.c",
        "native/addon/args.c",
        "native/addon/errors.c",
        "native/addon/misc.c",
        "native/addon/mount.c",
        "native/addon/overlay.c",
        "native/addon/xattr.c",
        "native/addon/spawn.c",
        "native/addon/readroot.c",
        # writeFiles: a batch of small layer files created and written on the thread pool
        "native/addon/writefiles.c",
        # copyFilesStart/Wait: cp's regular files copied a batch at a time on threads of their own
        "native/addon/copyfiles.c",
        # tarFiles: COPY's layer, file data read, hashed and written on two threads
        "native/addon/tarfiles.c",
        # readDirStats: COPY's walk, a directory's names, lstats and xattr flags in one call
        "native/addon/readdirstats.c",
        # cgroupApply: linux.resources → cgroup files, the same C tsrun-runtime uses
        "native/addon/cgroup.c",
        "native/cgroup/resources_read.c",
        "native/cgroup/resources_files.c",
        "native/cgroup/resources_v1.c",
        "native/cgroup/resources_v2.c",
        "native/cgroup/manager.c",
        "native/cgroup/resolve.c",
        "native/init/spec_json.c",
        "native/init/error.c",
      ],
      # json-c (Debian libjson-c-dev, as tsrun-runtime) reads the linux.resources JSON; linked dynamically here
      "libraries": ["-ljson-c"],
      "variables": {
        # push's gzip (gzipDeflate, native/addon/gzip.c) needs libdeflate (Debian libdeflate-dev,
        # runtime libdeflate0, linked dynamically). Without it the addon builds without gzipDeflate
        # and push falls back to node:zlib, so a missing package costs speed, not the build.
        "tsrun_libdeflate%": "<!(sh -c 'echo \"#include <libdeflate.h>\" | cc -E - >/dev/null 2>&1 && cc -print-file-name=libdeflate.so | grep -q / && echo 1 || echo 0')",
      },
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-D_GNU_SOURCE"],
      # cflags_c comes after node-gyp's Release -O3 on the command line, so -O2 wins.
      "cflags_c": ["-O2"],
      "conditions": [
        ["tsrun_libdeflate==1", {
          "sources": ["native/addon/gzip.c"],
          "defines": ["TSRUN_HAVE_LIBDEFLATE=1"],
          "libraries": ["-ldeflate"],
        }],
      ],
    },
    {
      "target_name": "tsrun-init",
      "type": "executable",
      # Add new native/init/*.c files to this list.
      "sources": [
        "native/init/main.c",
        "native/init/run.c",
        "native/init/run_hooks.c",
        "native/init/exec.c",
        "native/init/cgroup.c",
        "native/init/frames.c",
        "native/init/util.c",
        "native/init/rootfs.c",
        "native/init/overlay.c",
        "native/init/confine.c",
        "native/init/tty.c",
        "native/init/monitor.c",
        "native/init/init1.c",
        "native/init/seccomp.c",
        "native/init/devices.c",
        "native/init/nsjoin.c",
        "native/init/watch.c",
        "native/init/keys.c",
        "native/init/attach.c",
        "native/init/attach_client.c",
        "native/init/error.c",
        "native/init/spec.c",
        "native/init/spec_mounts.c",
        "native/init/spec_linux.c",
        "native/init/spec_seccomp.c",
        "native/init/spec_tsrun.c",
        "native/init/spec_dump.c",
        "native/init/spec_json.c",
        "native/init/hooks.c",
        # the state JSON hooks read: one builder with tsrun-runtime's `state`
        "native/common/oci_state.c",
        "native/init/spec_apply.c",
        "native/cgroup/resources_read.c",
        # the container's cgroup, made from the spec: the manager and mapping tsrun-runtime uses
        "native/cgroup/resources_files.c",
        "native/cgroup/resources_v1.c",
        "native/cgroup/resources_v2.c",
        "native/cgroup/manager.c",
        "native/cgroup/resolve.c",
      ],
      "cflags": ["-Wall", "-Wextra", "-D_GNU_SOURCE"],
      "cflags_c": ["-O2"],
      # the spec is read with json-c, as tsrun-runtime reads config.json (the same reader)
      "libraries": ["-ljson-c", "-lseccomp"],
      "conditions": [
        ["tsrun_static==1", {"ldflags": ["-static"]}],
      ],
    },
    {
      "target_name": "tsrun-runtime",
      "type": "executable",
      # config.json is read with json-c (Debian libjson-c-dev, linked statically like libseccomp):
      # crun's choice of a small, long-maintained C JSON library.
      "sources": [
        "native/runtime/main.c",
        "native/runtime/state.c",
        "native/common/oci_state.c",
        "native/runtime/create.c",
        "native/runtime/init.c",
        "native/runtime/confine_oci.c",
        "native/runtime/cgroups.c",
        "native/init/hooks.c",
        "native/init/spec_apply.c",
        "native/runtime/verbs.c",
        "native/runtime/info.c",
        "native/runtime/exec.c",
        "native/init/error.c",
        "native/init/spec.c",
        "native/init/spec_json.c",
        "native/cgroup/resources_read.c",
        "native/cgroup/resources_files.c",
        "native/cgroup/resources_v1.c",
        "native/cgroup/resources_v2.c",
        "native/cgroup/manager.c",
        "native/cgroup/resolve.c",
        "native/init/spec_mounts.c",
        "native/init/spec_linux.c",
        "native/init/spec_seccomp.c",
        "native/init/util.c",
        "native/init/rootfs.c",
        "native/init/overlay.c",
        "native/init/seccomp.c",
        "native/init/cgroup.c",
        "native/init/confine.c",
        "native/init/devices.c",
      ],
      "cflags": ["-Wall", "-Wextra", "-D_GNU_SOURCE"],
      "cflags_c": ["-O2"],
      "libraries": ["-ljson-c", "-lseccomp"],
      "conditions": [
        ["tsrun_static==1", {"ldflags": ["-static"]}],
      ],
    },
  ],
}
