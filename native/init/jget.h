/* Typed getters over json-c objects, for the spec readers (spec_json.c). */
#ifndef TSRUN_JGET_H
#define TSRUN_JGET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the typed getters, shared by its siblings: -1 (and oci_err) on a wrong type; absent is 0 with *out untouched */
int jget_str(json_object *o, const char *key, const char *where, char **out);
int jget_bool(json_object *o, const char *key, const char *where, bool *out);
int jget_i64(json_object *o, const char *key, const char *where, bool *has, int64_t *out);
int jget_u64(json_object *o, const char *key, const char *where, bool *has, uint64_t *out);
int jget_obj(json_object *o, const char *key, const char *where, json_object **out);
int jget_arr(json_object *o, const char *key, const char *where, json_object **out);
int jget_strv(json_object *o, const char *key, const char *where, char ***out, size_t *n);
void *grow(void *arr, size_t *n, size_t size);

#endif
