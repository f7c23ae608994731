/* mknod(2) and flock(2): small syscalls Node does not expose. */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/*
 * mknod(path, mode, major, minor): mode carries the type bits (S_IFCHR,
 * S_IFBLK, S_IFIFO, ...) as well as the permissions; the process umask applies,
 * as with mknod(2) itself.
 */
napi_value js_mknod(napi_env env, napi_callback_info info)
{
  napi_value argv[4];
  char *path = NULL;
  uint32_t mode = 0, major = 0, minor = 0;
  napi_value ret = NULL;

  if (args_get(env, info, 4, argv) < 0 ||
      arg_string(env, argv[0], &path, "path") < 0 ||
      arg_uint32(env, argv[1], &mode, "mode") < 0 ||
      arg_uint32(env, argv[2], &major, "major") < 0 ||
      arg_uint32(env, argv[3], &minor, "minor") < 0)
    goto out;

  if (mknod(path, (mode_t)mode, makedev(major, minor)) < 0)
    throw_errno(env, "mknod", path);
  else
    ret = js_undefined(env);
out:
  free(path);
  return ret;
}

/*
 * flock(fd, op) -> boolean. With LOCK_NB, "somebody else holds it" is an
 * expected answer, not a failure, so it comes back as false instead of an
 * exception. Without LOCK_NB this blocks the calling (JS) thread until the
 * lock is granted.
 */
napi_value js_flock(napi_env env, napi_callback_info info)
{
  napi_value argv[2], result;
  int32_t fd = -1, op = 0;
  int rc;

  if (args_get(env, info, 2, argv) < 0 ||
      arg_int32(env, argv[0], &fd, "fd") < 0 ||
      arg_int32(env, argv[1], &op, "op") < 0)
    return NULL;

  do
    rc = flock(fd, op);
  while (rc < 0 && errno == EINTR);

  if (rc < 0) {
    if (errno == EWOULDBLOCK && (op & LOCK_NB))
      return napi_get_boolean(env, false, &result) == napi_ok ? result : NULL;
    return throw_errno(env, "flock", NULL);
  }
  return napi_get_boolean(env, true, &result) == napi_ok ? result : NULL;
}

/*
 * addInodeFlags(dirOrFile, flags): FS_IOC_GETFLAGS, OR in `flags`,
 * FS_IOC_SETFLAGS — what `chattr +X` does, without a process per call. Used
 * for the ext4 top-of-hierarchy allocation hint (FS_TOPDIR_FL) on fresh layer
 * dirs. Throws ENOTTY/EOPNOTSUPP on file systems without inode flags.
 */
napi_value js_add_inode_flags(napi_env env, napi_callback_info info)
{
  napi_value argv[2];
  char *path = NULL;
  uint32_t add = 0;
  napi_value ret = NULL;
  int fd = -1;

  if (args_get(env, info, 2, argv) < 0 ||
      arg_string(env, argv[0], &path, "path") < 0 ||
      arg_uint32(env, argv[1], &add, "flags") < 0)
    goto out;

  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw_errno(env, "open", path);
    goto out;
  }
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
    throw_errno(env, "ioctl FS_IOC_GETFLAGS", path);
    goto out;
  }
  flags |= (int)add;
  if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
    throw_errno(env, "ioctl FS_IOC_SETFLAGS", path);
    goto out;
  }
  ret = js_undefined(env);
out:
  if (fd >= 0)
    close(fd);
  free(path);
  return ret;
}
