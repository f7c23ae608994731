/*
 * Detach keys, as docker's (moby/term's escapeProxy): each key of the
 * sequence that comes in order is swallowed; the last one detaches. A key
 * that breaks the sequence is passed on with the swallowed ones before it,
 * and is not itself taken as the start of a new sequence (docker's
 * behaviour: ctrl-p ctrl-p ctrl-q does not detach). Unlike docker, the match
 * goes byte by byte through what one read returned, so keys typed faster than
 * the monitor reads (or sent in one write) still detach.
 */
#include "init.h"

#include <string.h>

void keys_init(struct keys *k, const unsigned char *seq, size_t n)
{
  k->n = n < DETACH_KEYS_MAX ? n : DETACH_KEYS_MAX;
  memcpy(k->seq, seq, k->n);
  k->pos = 0;
}

size_t keys_filter(struct keys *k, const char *data, size_t len, char *out, bool *hit)
{
  size_t o = 0;
  *hit = false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if (k->n && c == k->seq[k->pos]) {
      if (++k->pos == k->n) {
        k->pos = 0;
        *hit = true;
        return o;
      }
      continue;
    }
    memcpy(out + o, k->seq, k->pos); /* the swallowed start of a sequence that did not come */
    o += k->pos;
    k->pos = 0;
    out[o++] = (char)c;
  }
  return o;
}
