/*
 * readDirStats(dir) -> [names, stats, xattrs]: one directory of a COPY's
 * source listed in one call (src/ops/build/walk-stat.ts): every entry's
 * name, its lstat and whether it has extended attributes.
 *
 * Why: COPY's walk made three calls per entry (readdir's share, lstat with
 * BigInt fields and four Dates, llistxattr), ~0.15 s of the JS thread and
 * its garbage collector for a 10,000-file context; one call per directory
 * returning flat arrays costs a fraction of that.
 *
 * names: string[] in readdir's order ("." and ".." left out; an entry gone
 * before its lstat is left out too: it was never there).
 * stats: a BigInt64Array of STAT_STRIDE numbers per entry: mode, uid, gid,
 * size, dev, ino, nlink, atime sec, nsec, mtime sec, nsec, ctime sec, nsec.
 * xattrs: a Uint8Array, per entry 0 (none: the list is empty or the file
 * system has none), 1 (some) or 2 (llistxattr failed otherwise: the caller
 * asks again itself and gets the error).
 * Errors (opendir, readdir, an lstat other than ENOENT) throw as node:fs's.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define STAT_STRIDE 13

struct rd_entry {
  char *name;
  struct stat st;
  uint8_t xattrs;
};

static void entries_free(struct rd_entry *e, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(e[i].name);
  free(e);
}

/* 0 none, 1 some, 2 unknown (the caller's own llistxattr reports the error). */
static uint8_t has_xattrs(const char *dir, size_t dir_len, const char *name)
{
  size_t n = strlen(name);
  char stackbuf[4096];
  char *p = dir_len + n + 2 <= sizeof stackbuf ? stackbuf : malloc(dir_len + n + 2);
  if (p == NULL)
    return 2;
  memcpy(p, dir, dir_len);
  p[dir_len] = '/';
  memcpy(p + dir_len + 1, name, n + 1);
  ssize_t r = llistxattr(p, NULL, 0);
  int err = errno;
  if (p != stackbuf)
    free(p);
  if (r > 0)
    return 1;
  if (r == 0 || err == ENOTSUP || err == EOPNOTSUPP)
    return 0;
  return 2;
}

napi_value js_read_dir_stats(napi_env env, napi_callback_info info)
{
  napi_value argv[1], out, names, stats, flags, ab;
  char *dir = NULL;
  if (args_get(env, info, 1, argv) < 0 || arg_string(env, argv[0], &dir, "dir") < 0)
    return NULL;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    napi_value e = throw_errno(env, "opendir", dir);
    free(dir);
    return e;
  }
  DIR *d = fdopendir(dfd);
  if (d == NULL) {
    napi_value e = throw_errno(env, "opendir", dir);
    close(dfd);
    free(dir);
    return e;
  }
  size_t dir_len = strlen(dir);
  while (dir_len > 1 && dir[dir_len - 1] == '/')
    dir_len--;
  struct rd_entry *ents = NULL;
  size_t n = 0, cap = 0;
  int err = 0;
  const char *failed = "scandir";
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (de == NULL) {
      err = errno;
      break;
    }
    if (de->d_name[0] == '.' && (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0)))
      continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      struct rd_entry *ne = realloc(ents, ncap * sizeof *ents);
      if (ne == NULL) {
        err = ENOMEM;
        break;
      }
      ents = ne;
      cap = ncap;
    }
    struct rd_entry *e = &ents[n];
    if (fstatat(dfd, de->d_name, &e->st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      err = errno;
      failed = "lstat";
      break;
    }
    e->name = strdup(de->d_name);
    if (e->name == NULL) {
      err = ENOMEM;
      break;
    }
    e->xattrs = has_xattrs(dir, dir_len, de->d_name);
    n++;
  }
  closedir(d);
  if (err != 0) {
    entries_free(ents, n);
    napi_value e = throw_errno_detail(env, err, failed, dir, NULL);
    free(dir);
    return e;
  }
  free(dir);

  int64_t *s;
  uint8_t *x;
  if (napi_create_array_with_length(env, n, &names) != napi_ok ||
      napi_create_arraybuffer(env, (n ? n : 1) * STAT_STRIDE * sizeof(int64_t), (void **)&s, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_bigint64_array, n * STAT_STRIDE, ab, 0, &stats) != napi_ok ||
      napi_create_arraybuffer(env, n ? n : 1, (void **)&x, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, n, ab, 0, &flags) != napi_ok) {
    entries_free(ents, n);
    napi_throw_error(env, NULL, "readDirStats: out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    napi_value name;
    const struct stat *st = &ents[i].st;
    if (napi_create_string_utf8(env, ents[i].name, NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_set_element(env, names, (uint32_t)i, name) != napi_ok) {
      entries_free(ents, n);
      return NULL;
    }
    int64_t *o = s + i * STAT_STRIDE;
    o[0] = st->st_mode;
    o[1] = st->st_uid;
    o[2] = st->st_gid;
    o[3] = st->st_size;
    o[4] = (int64_t)st->st_dev;
    o[5] = (int64_t)st->st_ino;
    o[6] = (int64_t)st->st_nlink;
    o[7] = st->st_atim.tv_sec;
    o[8] = st->st_atim.tv_nsec;
    o[9] = st->st_mtim.tv_sec;
    o[10] = st->st_mtim.tv_nsec;
    o[11] = st->st_ctim.tv_sec;
    o[12] = st->st_ctim.tv_nsec;
    x[i] = ents[i].xattrs;
  }
  entries_free(ents, n);
  if (napi_create_array_with_length(env, 3, &out) != napi_ok || napi_set_element(env, out, 0, names) != napi_ok ||
      napi_set_element(env, out, 1, stats) != napi_ok || napi_set_element(env, out, 2, flags) != napi_ok)
    return NULL;
  return out;
}
