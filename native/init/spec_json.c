/*
 * The spec readers' typed JSON getters (jget.h): shared by config.json's
 * readers and by linux.resources' reader, which the addon links too.
 */
#include "jget.h"
#include "error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *grow(void *arr, size_t *n, size_t size)
{
  void *p = realloc(arr, (*n + 1) * size);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  memset((char *)p + *n * size, 0, size);
  (*n)++;
  return p;
}

static json_object *field(json_object *o, const char *key)
{
  json_object *v = NULL;
  if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
    return NULL;
  return v;
}

int jget_str(json_object *o, const char *key, const char *where, char **out)
{
  json_object *v = field(o, key);
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_string))
    return fail(0, "config.json: %s%s must be a string", where, key);
  *out = (char *)json_object_get_string(v);
  return 0;
}

int jget_bool(json_object *o, const char *key, const char *where, bool *out)
{
  json_object *v = field(o, key);
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_boolean))
    return fail(0, "config.json: %s%s must be true or false", where, key);
  *out = json_object_get_boolean(v);
  return 0;
}

int jget_i64(json_object *o, const char *key, const char *where, bool *has, int64_t *out)
{
  json_object *v = field(o, key);
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_int))
    return fail(0, "config.json: %s%s must be an integer", where, key);
  errno = 0;
  *out = json_object_get_int64(v);
  if (errno)
    return fail(0, "config.json: %s%s is out of range", where, key);
  if (has)
    *has = true;
  return 0;
}

int jget_u64(json_object *o, const char *key, const char *where, bool *has, uint64_t *out)
{
  json_object *v = field(o, key);
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_int))
    return fail(0, "config.json: %s%s must be an integer", where, key);
  int64_t s = json_object_get_int64(v);
  if (s < 0 && json_object_get_uint64(v) < (uint64_t)INT64_MAX) /* a negative number */
    return fail(0, "config.json: %s%s must not be negative", where, key);
  *out = json_object_get_uint64(v);
  if (has)
    *has = true;
  return 0;
}

int jget_obj(json_object *o, const char *key, const char *where, json_object **out)
{
  json_object *v = field(o, key);
  if (v && !json_object_is_type(v, json_type_object))
    return fail(0, "config.json: %s%s must be an object", where, key);
  *out = v;
  return 0;
}

int jget_arr(json_object *o, const char *key, const char *where, json_object **out)
{
  json_object *v = field(o, key);
  if (v && !json_object_is_type(v, json_type_array))
    return fail(0, "config.json: %s%s must be an array", where, key);
  *out = v;
  return 0;
}

/* A string array as a NULL-terminated vector (n without the NULL); absent: *out stays. */
int jget_strv(json_object *o, const char *key, const char *where, char ***out, size_t *n)
{
  json_object *a;
  if (jget_arr(o, key, where, &a) < 0)
    return -1;
  if (!a)
    return 0;
  size_t len = json_object_array_length(a);
  char **v = calloc(len + 1, sizeof *v);
  if (!v)
    return fail(ENOMEM, "config.json");
  for (size_t i = 0; i < len; i++) {
    json_object *s = json_object_array_get_idx(a, i);
    if (!json_object_is_type(s, json_type_string))
      return fail(0, "config.json: %s%s must hold strings", where, key);
    v[i] = (char *)json_object_get_string(s);
  }
  *out = v;
  if (n)
    *n = len;
  return 0;
}

