/* See args.h. */
#include "args.h"
#include "errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int type_error(napi_env env, const char *name, const char *expected)
{
  char msg[160];
  snprintf(msg, sizeof msg, "The \"%s\" argument must be %s", name, expected);
  throw_arg_error(env, msg);
  return -1;
}

int args_get(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "napi_get_cb_info failed");
    return -1;
  }
  return 0;
}

int is_nullish(napi_env env, napi_value v)
{
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok)
    return 0;
  return t == napi_null || t == napi_undefined;
}

int arg_string(napi_env env, napi_value v, char **out, const char *name)
{
  napi_valuetype t;
  size_t len;
  bool isbuf = false;
  /* A Buffer is a path as bytes: layer names need not be UTF-8. */
  if (napi_is_buffer(env, v, &isbuf) == napi_ok && isbuf) {
    void *data;
    napi_get_buffer_info(env, v, &data, &len);
    if (memchr(data, 0, len) != NULL)
      return type_error(env, name, "a path without null bytes");
    char *b = malloc(len + 1);
    if (b == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return -1;
    }
    memcpy(b, data, len);
    b[len] = 0;
    *out = b;
    return 0;
  }
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string)
    return type_error(env, name, "of type string");
  /* Probe the length first: paths may be longer than any fixed buffer. */
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
    return type_error(env, name, "of type string");
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  /* A NUL inside the string would silently truncate the path the kernel sees. */
  if (len != strlen(s)) {
    free(s);
    return type_error(env, name, "a string without null bytes");
  }
  *out = s;
  return 0;
}

int arg_string_or_null(napi_env env, napi_value v, char **out, const char *name)
{
  if (is_nullish(env, v)) {
    *out = NULL;
    return 0;
  }
  return arg_string(env, v, out, name);
}

int arg_int32(napi_env env, napi_value v, int32_t *out, const char *name)
{
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number)
    return type_error(env, name, "of type number");
  napi_get_value_int32(env, v, out);
  return 0;
}

int arg_uint32(napi_env env, napi_value v, uint32_t *out, const char *name)
{
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number)
    return type_error(env, name, "of type number");
  napi_get_value_uint32(env, v, out);
  return 0;
}

int arg_bytes(napi_env env, napi_value v, void **data, size_t *len, const char *name)
{
  bool ok = false;
  if (napi_is_buffer(env, v, &ok) == napi_ok && ok) {
    napi_get_buffer_info(env, v, data, len);
    return 0;
  }
  if (napi_is_typedarray(env, v, &ok) == napi_ok && ok) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset);
    if (type == napi_uint8_array) {
      *len = length;
      return 0;
    }
  }
  return type_error(env, name, "a Buffer or Uint8Array");
}
