/*
 * cgroupApply(version, dirs, resourcesJson): OCI linux.resources written to a
 * container's cgroup dirs by native/cgroup/ (the mapping tsrun-runtime uses),
 * so tsrun's run and update share one implementation with it. Throws an Error
 * (code ECGROUP) whose message is the mapping's one-line error.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"
#include "../cgroup/resources.h"
#include "../init/error.h"

#include <stdlib.h>
#include <string.h>

static void free_resources(struct oci_resources *r)
{
  free(r->devices);
  for (int k = 0; k < THR_KINDS; k++)
    free(r->throttle[k]);
}

napi_value js_cgroup_apply(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  int32_t version = 0;
  uint32_t n = 0;
  char *json = NULL, **dirs = NULL;
  json_object *res = NULL;
  struct oci_resources r;
  memset(&r, 0, sizeof r);

  if (args_get(env, info, 3, argv) < 0 || arg_int32(env, argv[0], &version, "version") < 0 || arg_string(env, argv[2], &json, "resourcesJson") < 0)
    goto out;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &n) != napi_ok || n == 0) {
    throw_arg_error(env, "dirs must be a non-empty array of strings");
    goto out;
  }
  dirs = calloc(n, sizeof *dirs);
  for (uint32_t i = 0; dirs && i < n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || arg_string(env, v, &dirs[i], "dirs[]") < 0)
      goto out;
  }
  enum json_tokener_error jerr;
  res = json_tokener_parse_verbose(json, &jerr);
  if (!res || !json_object_is_type(res, json_type_object)) {
    napi_throw_error(env, "ECGROUP", "linux.resources: not a JSON object");
    goto out;
  }
  if (spec_read_resources(res, &r) < 0 || cg_apply(&r, dirs, n, version == 2) < 0) {
    napi_throw_error(env, "ECGROUP", oci_err.msg);
    goto out;
  }
  ret = js_undefined(env);
out:
  free_resources(&r);
  if (res)
    json_object_put(res);
  for (uint32_t i = 0; dirs && i < n; i++)
    free(dirs[i]);
  free(dirs);
  free(json);
  return ret;
}
