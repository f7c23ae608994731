/* The bindings exported to src/native.ts (NativeAddon); one file per area. */
#ifndef TSRUN_ADDON_H
#define TSRUN_ADDON_H

#include <node_api.h>

/* mount.c */
napi_value js_mount(napi_env env, napi_callback_info info);
napi_value js_umount2(napi_env env, napi_callback_info info);
/* overlay.c */
napi_value js_mount_overlay(napi_env env, napi_callback_info info);
/* xattr.c */
napi_value js_lgetxattr(napi_env env, napi_callback_info info);
napi_value js_lsetxattr(napi_env env, napi_callback_info info);
napi_value js_llistxattr(napi_env env, napi_callback_info info);
napi_value js_lremovexattr(napi_env env, napi_callback_info info);
/* misc.c */
napi_value js_mknod(napi_env env, napi_callback_info info);
napi_value js_flock(napi_env env, napi_callback_info info);
napi_value js_add_inode_flags(napi_env env, napi_callback_info info);
/* gzip.c */
napi_value js_spawn_launcher(napi_env env, napi_callback_info info);
napi_value js_waitpid(napi_env env, napi_callback_info info);
napi_value js_pipe(napi_env env, napi_callback_info info);
napi_value js_read_file_in_root(napi_env env, napi_callback_info info);
napi_value js_gzip_deflate(napi_env env, napi_callback_info info);
napi_value js_cgroup_apply(napi_env env, napi_callback_info info);
/* writefiles.c */
napi_value js_write_files(napi_env env, napi_callback_info info);
/* copyfiles.c */
napi_value js_copy_files_start(napi_env env, napi_callback_info info);
napi_value js_copy_files_wait(napi_env env, napi_callback_info info);
/* tarfiles.c */
napi_value js_tar_files(napi_env env, napi_callback_info info);
/* readdirstats.c */
napi_value js_read_dir_stats(napi_env env, napi_callback_info info);
napi_value js_cgroup_create(napi_env env, napi_callback_info info);
napi_value js_cgroup_resolve(napi_env env, napi_callback_info info);
napi_value js_cgroup_pids(napi_env env, napi_callback_info info);
napi_value js_cgroup_freeze(napi_env env, napi_callback_info info);
napi_value js_cgroup_frozen(napi_env env, napi_callback_info info);
napi_value js_cgroup_kill(napi_env env, napi_callback_info info);
napi_value js_cgroup_remove(napi_env env, napi_callback_info info);

/* Every void binding returns undefined; shared so each file need not fetch it. */
napi_value js_undefined(napi_env env);

#endif
