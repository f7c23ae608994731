/*
 * readFileInRoot(root, path, maxBytes) -> Buffer | null
 *
 * Reads a file of an image (its /etc/passwd, /etc/group) as the container
 * will see it: `path` is resolved by the kernel inside `root` with
 * openat2(RESOLVE_IN_ROOT), so an absolute symlink or ".." in the image
 * stays in the image, never on the host. One syscall instead of the lstat
 * walk of util/paths.ts resolveInRoot (~1 ms of cold code on `run`'s path),
 * and without its window between check and use.
 *
 * null: the file is not there (ENOENT, ENOTDIR, ELOOP): a lower layer may
 * have it. false: something else is there (a directory, a whiteout, a fifo)
 * or it is larger than maxBytes: it shadows the layers below. Other errors
 * throw (ENOSYS before Linux 5.6: the caller falls back to the walk).
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static napi_value null_value(napi_env env)
{
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

napi_value js_read_file_in_root(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  char *root = NULL, *path = NULL;
  uint32_t max = 0;
  int rootfd = -1, fd = -1;

  if (args_get(env, info, 3, argv) < 0 || arg_string(env, argv[0], &root, "root") < 0 ||
      arg_string(env, argv[1], &path, "path") < 0 || arg_uint32(env, argv[2], &max, "maxBytes") < 0)
    goto out;
  rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    ret = errno == ENOENT ? null_value(env) : throw_errno(env, "open", root);
    goto out;
  }
  /* O_NONBLOCK: a fifo planted as /etc/passwd must not hang tsrun (fstat then says it is no file) */
  struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  if (fd < 0) {
    ret = errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? null_value(env) : throw_errno(env, "openat2", path);
    goto out;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    ret = throw_errno(env, "fstat", path);
    goto out;
  }
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
    napi_get_boolean(env, false, &ret);
    goto out;
  }
  void *data;
  napi_value buf;
  if (napi_create_buffer(env, (size_t)st.st_size, &data, &buf) != napi_ok)
    goto out;
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, (char *)data + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ret = throw_errno(env, "read", path);
      goto out;
    }
    if (n == 0)
      break; /* shrank meanwhile: what is there */
    got += (size_t)n;
  }
  if (got < (size_t)st.st_size) {
    napi_value sub;
    /* buf.subarray(0, got) */
    napi_value fn, args[2];
    if (napi_get_named_property(env, buf, "subarray", &fn) != napi_ok || napi_create_uint32(env, 0, &args[0]) != napi_ok ||
        napi_create_uint32(env, (uint32_t)got, &args[1]) != napi_ok || napi_call_function(env, buf, fn, 2, args, &sub) != napi_ok)
      goto out;
    buf = sub;
  }
  ret = buf;
out:
  if (fd >= 0)
    close(fd);
  if (rootfd >= 0)
    close(rootfd);
  free(root);
  free(path);
  return ret;
}
