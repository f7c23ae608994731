/* The state JSON (oci_state.h): one builder for hooks and `state`. */
#include "oci_state.h"
#include "../init/spec.h"

#include <stdlib.h>
#include <string.h>

char *oci_state_json(const struct oci_state *s, bool pretty)
{
  json_object *st = json_object_new_object();
  json_object_object_add(st, "ociVersion", json_object_new_string(OCI_VERSION));
  json_object_object_add(st, "id", json_object_new_string(s->id));
  json_object_object_add(st, "status", json_object_new_string(s->status));
  /* the spec: pid is required while created or running; a stopped container has none */
  pid_t pid = strcmp(s->status, "stopped") != 0 && s->pid > 0 ? s->pid : 0;
  json_object_object_add(st, "pid", json_object_new_int(pid));
  json_object_object_add(st, "bundle", json_object_new_string(s->bundle));
  if (s->rootfs)
    json_object_object_add(st, "rootfs", json_object_new_string(s->rootfs));
  if (s->created && *s->created)
    json_object_object_add(st, "created", json_object_new_string(s->created));
  json_object_object_add(st, "annotations", s->annotations ? json_object_get(s->annotations) : json_object_new_object());
  int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
  char *text = strdup(json_object_to_json_string_ext(st, flags));
  json_object_put(st);
  return text;
}
