/*
 * Registration only: the table below is the whole JS surface of the addon and
 * must match NativeAddon in src/native.ts (initPath is added in TypeScript).
 */
#include "addon.h"

napi_value js_undefined(napi_env env)
{
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */)
{
  static const struct {
    const char *name;
    napi_callback fn;
  } table[] = {
    { "mount", js_mount },
    { "umount2", js_umount2 },
    { "mountOverlay", js_mount_overlay },
    { "mknod", js_mknod },
    { "lgetxattr", js_lgetxattr },
    { "lsetxattr", js_lsetxattr },
    { "llistxattr", js_llistxattr },
    { "lremovexattr", js_lremovexattr },
    { "flock", js_flock },
    { "addInodeFlags", js_add_inode_flags },
    { "spawnLauncher", js_spawn_launcher },
    { "waitpid", js_waitpid },
    { "pipe", js_pipe },
    { "readFileInRoot", js_read_file_in_root },
    { "cgroupApply", js_cgroup_apply },
    { "writeFiles", js_write_files },
    { "copyFilesStart", js_copy_files_start },
    { "copyFilesWait", js_copy_files_wait },
    { "tarFiles", js_tar_files },
    { "readDirStats", js_read_dir_stats },
    { "cgroupCreate", js_cgroup_create },
    { "cgroupResolve", js_cgroup_resolve },
    { "cgroupPids", js_cgroup_pids },
    { "cgroupFreeze", js_cgroup_freeze },
    { "cgroupFrozen", js_cgroup_frozen },
    { "cgroupKill", js_cgroup_kill },
    { "cgroupRemove", js_cgroup_remove },
#ifdef TSRUN_HAVE_LIBDEFLATE /* binding.gyp: only when libdeflate-dev is installed */
    { "gzipDeflate", js_gzip_deflate },
#endif
  };

  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, table[i].name, NAPI_AUTO_LENGTH, table[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, table[i].name, fn) != napi_ok)
      return NULL;
  }
  return exports;
}
