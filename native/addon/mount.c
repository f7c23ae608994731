/* mount(2) and umount2(2): the classic mount API, used for binds, tmpfs, propagation changes. */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <stdlib.h>
#include <sys/mount.h>

/* mount(source | null, target, fstype | null, flags, data | null) */
napi_value js_mount(napi_env env, napi_callback_info info)
{
  napi_value argv[5];
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  uint32_t flags = 0;
  napi_value ret = NULL;

  if (args_get(env, info, 5, argv) < 0 ||
      arg_string_or_null(env, argv[0], &source, "source") < 0 ||
      arg_string(env, argv[1], &target, "target") < 0 ||
      arg_string_or_null(env, argv[2], &fstype, "fstype") < 0 ||
      arg_uint32(env, argv[3], &flags, "flags") < 0 ||
      arg_string_or_null(env, argv[4], &data, "data") < 0)
    goto out;

  if (mount(source, target, fstype, flags, data) < 0)
    throw_errno(env, "mount", target);
  else
    ret = js_undefined(env);
out:
  free(source);
  free(target);
  free(fstype);
  free(data);
  return ret;
}

/* umount2(target, flags), e.g. MNT_DETACH to drop a busy mount lazily. */
napi_value js_umount2(napi_env env, napi_callback_info info)
{
  napi_value argv[2];
  char *target = NULL;
  int32_t flags = 0;
  napi_value ret = NULL;

  if (args_get(env, info, 2, argv) < 0 ||
      arg_string(env, argv[0], &target, "target") < 0 ||
      arg_int32(env, argv[1], &flags, "flags") < 0)
    goto out;

  if (umount2(target, flags) < 0)
    throw_errno(env, "umount2", target);
  else
    ret = js_undefined(env);
out:
  free(target);
  return ret;
}
