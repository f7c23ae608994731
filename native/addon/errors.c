/* Builds Node-style errno errors; see errors.h. */
#include "errors.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Only for C libraries without strerrorname_np (glibc < 2.32, musl): the
 * errnos these syscalls can actually return, so the JS side still gets a
 * symbolic code it can compare against.
 */
static const char *errno_name_fallback(int err)
{
  switch (err) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case ENOTBLK: return "ENOTBLK";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case EXDEV: return "EXDEV";
  case ENODEV: return "ENODEV";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case EMFILE: return "EMFILE";
  case ENFILE: return "ENFILE";
  case ENOSPC: return "ENOSPC";
  case EROFS: return "EROFS";
  case ERANGE: return "ERANGE";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ENOLCK: return "ENOLCK";
  case ENOSYS: return "ENOSYS";
  case ELOOP: return "ELOOP";
  case ENODATA: return "ENODATA";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EDQUOT: return "EDQUOT";
  case E2BIG: return "E2BIG";
  default: return NULL;
  }
}

static const char *errno_name(int err)
{
  const char *name = NULL;
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 32)
  name = strerrorname_np(err);
#endif
#endif
  if (name == NULL)
    name = errno_name_fallback(err);
  return name;
}

/* Sets obj[key] = string value; failures here can only be OOM, so they are ignored. */
static void set_str(napi_env env, napi_value obj, const char *key, const char *value)
{
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

napi_value throw_errno_detail(napi_env env, int err, const char *syscall,
                              const char *path, const char *detail)
{
  char codebuf[32];
  const char *code = errno_name(err);
  if (code == NULL) {
    snprintf(codebuf, sizeof codebuf, "Unknown system error %d", err);
    code = codebuf;
  }

  /* Node (libuv) spells descriptions in lower case: "operation not permitted". */
  char desc[128];
  snprintf(desc, sizeof desc, "%s", strerror(err));
  desc[0] = (char)tolower((unsigned char)desc[0]);

  /* "EPERM: operation not permitted, mount '/x' (detail)" */
  size_t len = strlen(code) + strlen(desc) + strlen(syscall) + 16 +
               (path ? strlen(path) : 0) + (detail ? strlen(detail) : 0);
  char *msg = malloc(len);
  if (msg == NULL) {
    napi_throw_error(env, code, desc);
    return NULL;
  }
  int n = snprintf(msg, len, "%s: %s, %s", code, desc, syscall);
  if (path)
    n += snprintf(msg + n, len - n, " '%s'", path);
  if (detail && *detail)
    snprintf(msg + n, len - n, " (%s)", detail);

  napi_value jsmsg, error, jserrno;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jsmsg) != napi_ok ||
      napi_create_error(env, NULL, jsmsg, &error) != napi_ok) {
    free(msg);
    napi_throw_error(env, code, desc);
    return NULL;
  }
  free(msg);

  set_str(env, error, "code", code);
  /* Node's errors carry the negated errno (uv convention); keep that so checks agree. */
  if (napi_create_int32(env, -err, &jserrno) == napi_ok)
    napi_set_named_property(env, error, "errno", jserrno);
  set_str(env, error, "syscall", syscall);
  if (path)
    set_str(env, error, "path", path);

  napi_throw(env, error);
  return NULL;
}

napi_value throw_errno(napi_env env, const char *syscall, const char *path)
{
  return throw_errno_detail(env, errno, syscall, path, NULL);
}

napi_value throw_arg_error(napi_env env, const char *what)
{
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
  return NULL;
}
