/*
 * The launcher's input on fd 3, as frames of bytes (init.h says what each
 * holds): a run is "NAMESPACES\0SPEC\0" then EOF, an exec "\0SPEC" then EOF.
 * NAMESPACES is the spec's linux.namespaces array, sent as tsrun spawns the
 * launcher so that it can make them while tsrun still creates the container;
 * SPEC is the OCI runtime spec (JSON), read by spec*.c. EOF is the go: tsrun
 * closes fd 3 once the container may exec.
 */
#include "init.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INPUT_MAX (16u << 20)

/* Reads more into b (growing it); returns 0 at EOF, 1 after a read, or -errno. */
static int read_some(int fd, struct planbuf *b, char *err, size_t errlen)
{
  if (b->len + 1 >= b->cap) {
    if (b->cap >= INPUT_MAX) {
      snprintf(err, errlen, "launcher input larger than %u bytes", INPUT_MAX);
      return -E2BIG;
    }
    size_t cap = b->cap ? b->cap * 2 : 1 << 16;
    char *d = realloc(b->data, cap);
    if (!d) {
      snprintf(err, errlen, "out of memory");
      return -ENOMEM;
    }
    b->data = d;
    b->cap = cap;
  }
  ssize_t r;
  do
    r = read(fd, b->data + b->len, b->cap - b->len - 1);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    snprintf(err, errlen, "read the spec");
    return -errno;
  }
  b->len += (size_t)r;
  b->data[b->len] = '\0'; /* the rest (to EOF) is a string too */
  return r > 0;
}

/* Reads until b holds n NUL-terminated frames; *end is the offset of the n-th NUL. */
static int read_frames(int fd, struct planbuf *b, int n, size_t *end, char *err, size_t errlen)
{
  size_t scanned = 0;
  for (int seen = 0;;) {
    for (; scanned < b->len; scanned++)
      if (b->data[scanned] == '\0' && ++seen == n) {
        *end = scanned;
        return 0;
      }
    int rc = read_some(fd, b, err, errlen);
    if (rc == 0) {
      snprintf(err, errlen, "the launcher's input ends before its frame %d does", n);
      return -EINVAL;
    }
    if (rc < 0)
      return rc;
  }
}

int planbuf_read_first(int fd, struct planbuf *b, size_t *first_len, char *err, size_t errlen)
{
  return read_frames(fd, b, 1, first_len, err, errlen);
}

int planbuf_read_early(int fd, struct planbuf *b, char *err, size_t errlen)
{
  return read_frames(fd, b, 2, &b->early_len, err, errlen);
}

int planbuf_read_to(int fd, struct planbuf *b, size_t n, char *err, size_t errlen)
{
  while (b->len < n) {
    int rc = read_some(fd, b, err, errlen);
    if (rc == 0) {
      snprintf(err, errlen, "the launcher's input ends early");
      return -EINVAL;
    }
    if (rc < 0)
      return rc;
  }
  return 0;
}

int planbuf_read_rest(int fd, struct planbuf *b, char *err, size_t errlen)
{
  int rc;
  while ((rc = read_some(fd, b, err, errlen)) > 0)
    ;
  close(fd);
  return rc;
}
