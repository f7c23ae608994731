/*
 * l*xattr(2): extended attributes on the link itself, never following
 * symlinks, because layer dirs hold untrusted symlinks and overlay keeps its
 * whiteout/opaque markers in trusted.overlay.* (or user.overlay.*) xattrs.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* Another process may grow the value between the size probe and the read. */
#define XATTR_RETRIES 8

/* lgetxattr(path, name) -> Buffer | null (null when the attribute is absent). */
napi_value js_lgetxattr(napi_env env, napi_callback_info info)
{
  napi_value argv[2], ret = NULL;
  char *path = NULL, *name = NULL, *buf = NULL;
  ssize_t len = -1;

  if (args_get(env, info, 2, argv) < 0 ||
      arg_string(env, argv[0], &path, "path") < 0 ||
      arg_string(env, argv[1], &name, "name") < 0)
    goto out;

  for (int i = 0; i < XATTR_RETRIES; i++) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0)
      break;
    free(buf);
    /* +1 so a zero-length value still gets a valid pointer. */
    buf = malloc((size_t)size + 1);
    if (buf == NULL) {
      errno = ENOMEM;
      break;
    }
    len = lgetxattr(path, name, buf, (size_t)size);
    if (len >= 0 || errno != ERANGE)
      break;
  }

  if (len < 0) {
    if (errno == ENODATA)
      napi_get_null(env, &ret);
    else
      throw_errno_detail(env, errno, "lgetxattr", path, name);
    goto out;
  }
  void *data;
  if (napi_create_buffer_copy(env, (size_t)len, buf, &data, &ret) != napi_ok)
    ret = NULL;
out:
  free(path);
  free(name);
  free(buf);
  return ret;
}

/* lsetxattr(path, name, value, flags); flags is 0, XATTR_CREATE or XATTR_REPLACE. */
napi_value js_lsetxattr(napi_env env, napi_callback_info info)
{
  napi_value argv[4], ret = NULL;
  char *path = NULL, *name = NULL;
  void *value = NULL;
  size_t value_len = 0;
  int32_t flags = 0;

  if (args_get(env, info, 4, argv) < 0 ||
      arg_string(env, argv[0], &path, "path") < 0 ||
      arg_string(env, argv[1], &name, "name") < 0 ||
      arg_bytes(env, argv[2], &value, &value_len, "value") < 0 ||
      arg_int32(env, argv[3], &flags, "flags") < 0)
    goto out;

  if (lsetxattr(path, name, value, value_len, flags) < 0)
    throw_errno_detail(env, errno, "lsetxattr", path, name);
  else
    ret = js_undefined(env);
out:
  free(path);
  free(name);
  return ret;
}

/* llistxattr(path) -> string[] of attribute names, in the kernel's order. */
napi_value js_llistxattr(napi_env env, napi_callback_info info)
{
  napi_value argv[1], ret = NULL;
  char *path = NULL, *buf = NULL;
  ssize_t len = -1;

  if (args_get(env, info, 1, argv) < 0 ||
      arg_string(env, argv[0], &path, "path") < 0)
    goto out;

  /* Most files have no or few attributes: one call into a fixed buffer first
   * (commit lists the xattrs of every file it walks), probing the size only
   * when the list does not fit. */
  buf = malloc(4096);
  if (buf == NULL) {
    errno = ENOMEM;
    throw_errno(env, "llistxattr", path);
    goto out;
  }
  len = llistxattr(path, buf, 4096);
  for (int i = 0; len < 0 && errno == ERANGE && i < XATTR_RETRIES; i++) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0)
      break;
    free(buf);
    buf = malloc((size_t)size + 1);
    if (buf == NULL) {
      errno = ENOMEM;
      break;
    }
    len = llistxattr(path, buf, (size_t)size);
    if (len >= 0 || errno != ERANGE)
      break;
  }
  if (len < 0) {
    throw_errno(env, "llistxattr", path);
    goto out;
  }

  /* The list is "name\0name\0..."; every entry ends in a NUL. */
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok)
    goto out;
  uint32_t idx = 0;
  for (ssize_t off = 0; off < len;) {
    size_t n = strnlen(buf + off, (size_t)(len - off));
    napi_value s;
    if (n > 0) {
      if (napi_create_string_utf8(env, buf + off, n, &s) != napi_ok ||
          napi_set_element(env, arr, idx++, s) != napi_ok)
        goto out;
    }
    off += (ssize_t)n + 1;
  }
  ret = arr;
out:
  free(path);
  free(buf);
  return ret;
}

/* lremovexattr(path, name); a missing attribute throws ENODATA. */
napi_value js_lremovexattr(napi_env env, napi_callback_info info)
{
  napi_value argv[2], ret = NULL;
  char *path = NULL, *name = NULL;

  if (args_get(env, info, 2, argv) < 0 ||
      arg_string(env, argv[0], &path, "path") < 0 ||
      arg_string(env, argv[1], &name, "name") < 0)
    goto out;

  if (lremovexattr(path, name) < 0)
    throw_errno_detail(env, errno, "lremovexattr", path, name);
  else
    ret = js_undefined(env);
out:
  free(path);
  free(name);
  return ret;
}
