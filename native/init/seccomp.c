/*
 * The seccomp filter: compiled once per profile, then loaded from a cache.
 *
 * Compiling docker's default profile with libseccomp costs several ms of CPU
 * on every container start, for the same result each time. So the parent half
 * of tsrun-init (still in the host's namespaces, before clone) prepares the
 * BPF program: from DIR/seccomp-HASH.bpf when the spec names a cache dir
 * (annotation io.tsrun.seccomp.cache: /run/tsrun/seccomp, runtime state shared by every
 * store and gone at reboot) and the file holds this exact filter, else
 * by compiling the spec's rules with libseccomp and writing the file
 * (temp + rename, so readers see a whole file or none). The child inherits
 * the program in memory and loads it with seccomp(2) itself, the same call
 * with the same flags (none) libseccomp's seccomp_load makes by default.
 *
 * A cache file is only used when its key matches byte for byte: the key is
 * the libseccomp version, the native architecture, the default action and
 * every rule, so a hash collision or a foreign file cannot swap in another
 * filter; and a file is only read when it is ours and writable by no one else.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CACHE_MAGIC "tsrun-seccomp-bpf 1\n"
#define MAX_INSNS 4096 /* BPF_MAXINSNS */

static struct sock_fprog prepared;

/* The cache key: everything the compiled program depends on, as text. */
static char *cache_key(const struct plan *p, size_t *len)
{
  size_t cap = 256 + p->nrules * 256, n = 0;
  char *k = malloc(cap);
  if (!k)
    return NULL;
  const struct scmp_version *v = seccomp_version();
  n += (size_t)snprintf(k + n, cap - n, "libseccomp %u.%u.%u arch %u default %u\n", v->major, v->minor, v->micro,
                        seccomp_arch_native(), p->seccomp_default);
  for (size_t i = 0; i < p->nrules; i++) {
    const struct sc_rule *r = &p->rules[i];
    n += (size_t)snprintf(k + n, cap - n, "%u %.64s", r->action, r->name);
    for (unsigned a = 0; a < r->nargs; a++)
      n += (size_t)snprintf(k + n, cap - n, " %u,%d,%llu,%llu", r->args[a].idx, r->args[a].op,
                            (unsigned long long)r->args[a].v1, (unsigned long long)r->args[a].v2);
    n += (size_t)snprintf(k + n, cap - n, "\n");
  }
  *len = n;
  return k;
}

static uint64_t fnv1a(const char *s, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

static int read_all(int fd, char **out, size_t *len)
{
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (16 << 20))
    return -1;
  char *buf = malloc((size_t)st.st_size);
  size_t got = 0;
  while (buf && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  if (!buf || got != (size_t)st.st_size) {
    free(buf);
    return -1;
  }
  *out = buf;
  *len = got;
  return 0;
}

/* File: magic, key length (u32), key, then the raw sock_filter array. */
static int load_cache(const char *file, const char *key, size_t keylen)
{
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  char *buf;
  size_t len;
  struct stat st;
  /* only a file of our own that nobody else may write */
  if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022) || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  int rc = read_all(fd, &buf, &len);
  close(fd);
  if (rc < 0)
    return -1;
  size_t m = sizeof CACHE_MAGIC - 1, off = m + sizeof(uint32_t);
  uint32_t kl;
  if (len < off || memcmp(buf, CACHE_MAGIC, m) != 0)
    goto bad;
  memcpy(&kl, buf + m, sizeof kl);
  if (kl != keylen || len < off + kl || memcmp(buf + off, key, keylen) != 0)
    goto bad;
  off += kl;
  size_t body = len - off;
  if (body == 0 || body % sizeof(struct sock_filter) || body / sizeof(struct sock_filter) > MAX_INSNS)
    goto bad;
  prepared.len = (unsigned short)(body / sizeof(struct sock_filter));
  prepared.filter = malloc(body);
  if (!prepared.filter)
    goto bad;
  memcpy(prepared.filter, buf + off, body);
  free(buf);
  return 0;
bad:
  free(buf);
  return -1;
}

static void store_cache(const char *dir, const char *file, const char *key, size_t keylen)
{
  char d[4096];
  snprintf(d, sizeof d, "%s", dir);
  for (char *c = d + 1;; c++) /* mkdir -p */
    if (*c == '/' || !*c) {
      char was = *c;
      *c = '\0';
      if (mkdir(d, 0700) < 0 && errno != EEXIST)
        return;
      if (!(*c = was))
        break;
    }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return;
  uint32_t kl = (uint32_t)keylen;
  size_t body = prepared.len * sizeof(struct sock_filter);
  if (write_all(fd, CACHE_MAGIC, sizeof CACHE_MAGIC - 1) < 0 || write_all(fd, &kl, sizeof kl) < 0 ||
      write_all(fd, key, keylen) < 0 || write_all(fd, prepared.filter, body) < 0 || close(fd) < 0 ||
      rename(tmp, file) < 0)
    unlink(tmp);
}

/* libseccomp → BPF in memory (exported through a memfd). Returns 0, or -1 with step/detail set. */
static int compile(const struct plan *p, const char **step, const char **detail)
{
  *detail = NULL;
  scmp_filter_ctx ctx = seccomp_init(p->seccomp_default);
  if (!ctx) {
    *step = "seccomp_init";
    errno = EINVAL;
    return -1;
  }
  /* docker's profile also covers the 32-bit ABIs of x86_64 */
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
    seccomp_arch_add(ctx, SCMP_ARCH_X86);
    seccomp_arch_add(ctx, SCMP_ARCH_X32);
  }
  /* no_new_privs is the plan's decision, not libseccomp's default */
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  int rc = 0;
  for (size_t i = 0; i < p->nrules; i++) {
    const struct sc_rule *r = &p->rules[i];
    if (r->action == p->seccomp_default)
      continue;
    int nr = seccomp_syscall_resolve_name(r->name);
    if (nr == __NR_SCMP_ERROR)
      continue; /* not a syscall of this architecture */
    struct scmp_arg_cmp args[6];
    for (unsigned a = 0; a < r->nargs; a++)
      args[a] = (struct scmp_arg_cmp){ r->args[a].idx, (enum scmp_compare)r->args[a].op, r->args[a].v1, r->args[a].v2 };
    rc = seccomp_rule_add_array(ctx, r->action, nr, r->nargs, args);
    if (rc < 0 && rc != -EEXIST) {
      *step = "seccomp rule";
      *detail = r->name;
      goto out;
    }
    rc = 0;
  }
  int mfd = memfd_create("tsrun-seccomp", MFD_CLOEXEC);
  *step = "seccomp export";
  if (mfd < 0) {
    rc = -errno;
    goto out;
  }
  rc = seccomp_export_bpf(ctx, mfd);
  if (rc == 0) {
    char *buf;
    size_t len;
    lseek(mfd, 0, SEEK_SET);
    if (read_all(mfd, &buf, &len) < 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > MAX_INSNS)
      rc = -EINVAL;
    else {
      prepared.filter = (struct sock_filter *)buf;
      prepared.len = (unsigned short)(len / sizeof(struct sock_filter));
    }
  }
  close(mfd);
out:
  seccomp_release(ctx);
  if (rc < 0) {
    errno = -rc;
    return -1;
  }
  return 0;
}

int prepare_seccomp(const struct plan *p, const char **step, const char **detail)
{
  if (!p->seccomp)
    return 0;
  size_t keylen = 0;
  char *key = cache_key(p, &keylen);
  char file[4096] = "";
  if (key && p->seccomp_cache) {
    snprintf(file, sizeof file, "%s/seccomp-%016llx.bpf", p->seccomp_cache, (unsigned long long)fnv1a(key, keylen));
    if (load_cache(file, key, keylen) == 0) {
      free(key);
      return 0;
    }
  }
  if (compile(p, step, detail) < 0) {
    int err = errno;
    free(key);
    errno = err;
    return -1;
  }
  if (key && *file)
    store_cache(p->seccomp_cache, file, key, keylen);
  free(key);
  return 0;
}

/* The prepared filter as bytes (none: len 0), for the monitor to hand to the container process. */
void prepared_seccomp_bytes(const void **buf, size_t *len)
{
  *buf = prepared.filter;
  *len = prepared.filter ? prepared.len * sizeof(struct sock_filter) : 0;
}

/* The container process's side: a filter prepared by the monitor. Returns -1 on a malformed one. */
int take_prepared_seccomp(const char *buf, size_t len)
{
  if (len == 0)
    return 0;
  if (len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > MAX_INSNS)
    return -1;
  prepared.filter = malloc(len);
  if (!prepared.filter)
    return -1;
  memcpy(prepared.filter, buf, len);
  prepared.len = (unsigned short)(len / sizeof(struct sock_filter));
  return 0;
}

void load_prepared_seccomp(int sync)
{
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prepared) < 0)
    child_fail(sync, "seccomp load", NULL);
}
