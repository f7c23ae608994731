/*
 * copyFilesStart(names, meta, opts) -> handle; copyFilesWait(handle) -> null | Int32Array
 *
 * `cp`'s regular files, copied a batch at a time on threads of their own
 * (src/ops/cp/copy-batch.ts). Copied one by one from JS, each file cost ~12
 * synchronous node:fs calls, each resolving a /proc/self/fd/N/NAME path and
 * building an exception for the expected ENOENT of "is something there?".
 * Here every name is looked up with openat() relative to an open directory
 * fd (one component, O_NOFOLLOW), and the JS thread goes on walking the tree
 * and making directories while the batch is copied: `cp` is synchronous, so
 * the batch runs on plain pthreads that copyFilesWait joins, not on libuv's
 * pool (whose completions need the event loop); copyFilesWait first copies
 * what the threads have not taken yet itself, on the JS thread.
 *
 * For file i (meta holds META_STRIDE int32s per file): srcDirFd, srcOff,
 * srcLen, dstDirFd, dstOff, dstLen; names[off .. off+len) followed by a NUL.
 * opts (Float64Array): live (1: the source tree may change meanwhile),
 * owner (0: left as created, 1: the source's, 2: the uid/gid that follow),
 * uid, gid, threads (1-4).
 *
 * The source is opened without following a symlink: in one step
 * (O_RDONLY|O_NOFOLLOW|O_NONBLOCK) for a tree nothing changes, or as O_PATH,
 * checked to be a regular file, then reopened through /proc/self/fd for a
 * live one (a device node swapped in is never opened). The destination is
 * created O_EXCL|O_NOFOLLOW; a regular file already there is reopened the
 * same two-step way and truncated, another non-directory is unlinked first
 * (docker's untar), a directory is refused. Then the data (read/write, up to
 * the fstat's size for a static source, to EOF for a live one), the
 * owner and the mode where the new file's fstat differs (the mode again after
 * a chown, which clears setuid) and the times of the source's fstat (rounded down to microseconds, as node:fs futimes does, so
 * files agree with the directories and links JS writes), close.
 *
 * Not copied, handed back to JS as [index, 0, CF_*] triples: a source that
 * is gone (CF_GONE), is no longer a regular file (CF_CHANGED), or has other
 * hard links (CF_HARDLINK: JS keeps the first-link map); a destination that
 * is a directory (CF_DST_DIR). A failing syscall gives [index, errno, step].
 * The directory fds must stay open until copyFilesWait returns.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_STRIDE 6 /* srcDirFd, srcOff, srcLen, dstDirFd, dstOff, dstLen */
#define MAX_THREADS 4
#define BUF_SIZE (256 * 1024)
/* Files taken at once: neighbours (one directory) mostly stay on one thread, whose creates would contend for its lock. */
#define CHUNK 4

/* Steps of a failed syscall; must match STEPS in src/ops/cp/copy-batch.ts. */
enum { CF_STEP_SRC_OPEN, CF_STEP_SRC_STAT, CF_STEP_DST_OPEN, CF_STEP_UNLINK, CF_STEP_READ, CF_STEP_WRITE,
       CF_STEP_CHOWN, CF_STEP_CHMOD, CF_STEP_UTIMES, CF_STEP_CLOSE, CF_STEP_DST_STAT };
/* Entries left to JS (err 0). */
enum { CF_GONE = 100, CF_CHANGED, CF_HARDLINK, CF_DST_DIR };

enum { OWNER_KEEP, OWNER_SOURCE, OWNER_FIXED };

struct cf_file {
  int srcdir, dstdir;
  const char *src, *dst;
  int err;
  int step;
};

struct cf_job;
struct cf_worker {
  struct cf_job *job;
  pthread_t th;
  int started;
};

struct cf_job {
  int live, owner;
  uid_t uid;
  gid_t gid;
  size_t nfiles;
  struct cf_file *files;
  char *names;
  /* the next file to take: the threads and, in copyFilesWait, the JS thread take CHUNK at a time */
  atomic_size_t next;
  int nworkers;
  struct cf_worker workers[MAX_THREADS];
  int joined;
};

static int set_result(struct cf_file *f, int err, int step)
{
  f->err = err;
  f->step = step;
  return -1;
}

/* The source open for reading, or -1 with the result set. */
static int open_source(struct cf_job *job, struct cf_file *f, struct stat *st)
{
  int fd;
  if (!job->live) {
    fd = openat(f->srcdir, f->src, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT)
        return set_result(f, 0, CF_GONE);
      /* a symlink (ELOOP), a socket (ENXIO), a device node on a nodev mount (EACCES) */
      if (errno == ELOOP || errno == ENXIO || errno == EACCES)
        return set_result(f, 0, CF_CHANGED);
      return set_result(f, errno, CF_STEP_SRC_OPEN);
    }
  } else {
    int pfd = openat(f->srcdir, f->src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0)
      return errno == ENOENT ? set_result(f, 0, CF_GONE) : set_result(f, errno, CF_STEP_SRC_OPEN);
    if (fstat(pfd, st) < 0) {
      int e = errno;
      close(pfd);
      return set_result(f, e, CF_STEP_SRC_STAT);
    }
    if (!S_ISREG(st->st_mode)) {
      close(pfd);
      return set_result(f, 0, CF_CHANGED);
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    fd = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC); /* the same inode: no second lookup of the name */
    int e = errno;
    close(pfd);
    if (fd < 0)
      return set_result(f, e, CF_STEP_SRC_OPEN);
  }
  if (fstat(fd, st) < 0) {
    int e = errno;
    close(fd);
    return set_result(f, e, CF_STEP_SRC_STAT);
  }
  if (!S_ISREG(st->st_mode) || st->st_nlink > 1) {
    close(fd);
    return set_result(f, 0, S_ISREG(st->st_mode) ? CF_HARDLINK : CF_CHANGED);
  }
  return fd;
}

/* The destination open for writing (new, or an existing regular file truncated), or -1 with the result set. */
static int open_dest(struct cf_file *f, mode_t mode)
{
  for (int tries = 0; tries < 8; tries++) {
    int fd = openat(f->dstdir, f->dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EEXIST)
      return fd >= 0 ? fd : set_result(f, errno, CF_STEP_DST_OPEN);
    /* something is there: the non-symlink it is decides (O_PATH|O_NOFOLLOW opens a symlink itself) */
    int pfd = openat(f->dstdir, f->dst, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) {
      if (errno == ENOENT)
        continue; /* removed meanwhile */
      return set_result(f, errno, CF_STEP_DST_OPEN);
    }
    struct stat st;
    if (fstat(pfd, &st) < 0) {
      int e = errno;
      close(pfd);
      return set_result(f, e, CF_STEP_DST_OPEN);
    }
    if (S_ISDIR(st.st_mode)) {
      close(pfd);
      return set_result(f, 0, CF_DST_DIR);
    }
    if (S_ISREG(st.st_mode)) {
      char proc[64];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
      fd = open(proc, O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
      int e = errno;
      close(pfd);
      return fd >= 0 ? fd : set_result(f, e, CF_STEP_DST_OPEN);
    }
    close(pfd);
    if (unlinkat(f->dstdir, f->dst, 0) < 0 && errno != ENOENT)
      return set_result(f, errno, CF_STEP_UNLINK);
  }
  return set_result(f, EEXIST, CF_STEP_DST_OPEN);
}

/* A static source ends at its size (no read to see the end); a live one may grow: read to EOF. */
static int copy_data(int in, int out, char *buf, off_t size, int live, struct cf_file *f)
{
  for (off_t left = size; live || left > 0;) {
    size_t want = live || left > BUF_SIZE ? BUF_SIZE : (size_t)left;
    ssize_t n = read(in, buf, want);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return set_result(f, errno, CF_STEP_READ);
    if (n == 0)
      return 0;
    left -= n;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return set_result(f, errno, CF_STEP_WRITE);
      off += w;
    }
  }
  return 0;
}

static struct timespec to_usec(struct timespec t)
{
  t.tv_nsec -= t.tv_nsec % 1000;
  return t;
}

/*
 * Owner, mode and times. The fstat of the new file says which of chown and chmod are needed: the
 * common case (a root-owned copy of a 0644 file, created 0644 less the umask) needs neither, and
 * through an overlay each is a setattr of its own. After a chown (which clears setuid/setgid) the
 * mode is always set again.
 */
static int set_meta(struct cf_job *job, int out, const struct stat *st, struct cf_file *f)
{
  struct stat now;
  if (fstat(out, &now) < 0)
    return set_result(f, errno, CF_STEP_DST_STAT);
  int chowned = 0;
  if (job->owner != OWNER_KEEP) {
    uid_t uid = job->owner == OWNER_SOURCE ? st->st_uid : job->uid;
    gid_t gid = job->owner == OWNER_SOURCE ? st->st_gid : job->gid;
    if (now.st_uid != uid || now.st_gid != gid) {
      if (fchown(out, uid, gid) < 0)
        return set_result(f, errno, CF_STEP_CHOWN);
      chowned = 1;
    }
  }
  mode_t mode = st->st_mode & 07777;
  if ((chowned || (now.st_mode & 07777) != mode) && fchmod(out, mode) < 0)
    return set_result(f, errno, CF_STEP_CHMOD);
  struct timespec times[2] = { to_usec(st->st_atim), to_usec(st->st_mtim) };
  if (futimens(out, times) < 0)
    return set_result(f, errno, CF_STEP_UTIMES);
  return 0;
}

static void copy_one(struct cf_job *job, struct cf_file *f, char *buf)
{
  struct stat st;
  int in = open_source(job, f, &st);
  if (in < 0)
    return;
  int out = open_dest(f, st.st_mode & 0777);
  if (out < 0) {
    close(in);
    return;
  }
  int ok = copy_data(in, out, buf, st.st_size, job->live, f) == 0;
  close(in);
  if (ok)
    ok = set_meta(job, out, &st, f) == 0;
  if (close(out) < 0 && ok)
    set_result(f, errno, CF_STEP_CLOSE);
}

/* Copy files of the batch until none is left to take. */
static void cf_work(struct cf_job *job, char *buf)
{
  for (;;) {
    size_t i = atomic_fetch_add(&job->next, CHUNK);
    if (i >= job->nfiles)
      return;
    size_t end = i + CHUNK < job->nfiles ? i + CHUNK : job->nfiles;
    for (; i < end; i++) {
      struct cf_file *f = &job->files[i];
      if (f->err != 0 || f->step != 0)
        continue; /* refused when the batch was read */
      if (buf == NULL)
        set_result(f, ENOMEM, CF_STEP_READ);
      else
        copy_one(job, f, buf);
    }
  }
}

static void *cf_run(void *arg)
{
  struct cf_worker *w = arg;
  char *buf = malloc(BUF_SIZE);
  cf_work(w->job, buf);
  free(buf);
  return NULL;
}

static void job_join(struct cf_job *job)
{
  if (job->joined)
    return;
  job->joined = 1;
  for (int t = 0; t < job->nworkers; t++)
    if (job->workers[t].started)
      pthread_join(job->workers[t].th, NULL);
}

static void job_free(struct cf_job *job)
{
  job_join(job);
  free(job->files);
  free(job->names);
  free(job);
}

/* GC of a handle never waited for (an exception between start and wait): the threads still end first. */
static void handle_finalize(napi_env env, void *data, void *hint)
{
  (void)env;
  (void)hint;
  job_free(data);
}

napi_value js_copy_files_start(napi_env env, napi_callback_info info)
{
  napi_value argv[3], handle;
  void *names = NULL, *metav = NULL, *optsv = NULL;
  size_t names_len = 0, meta_len = 0, opts_len = 0;
  napi_typedarray_type ttype;

  if (args_get(env, info, 3, argv) < 0 || arg_bytes(env, argv[0], &names, &names_len, "names") < 0)
    return NULL;
  if (napi_get_typedarray_info(env, argv[1], &ttype, &meta_len, &metav, NULL, NULL) != napi_ok || ttype != napi_int32_array ||
      meta_len % META_STRIDE != 0)
    return throw_arg_error(env, "The \"meta\" argument must be an Int32Array of 6 numbers per file");
  if (napi_get_typedarray_info(env, argv[2], &ttype, &opts_len, &optsv, NULL, NULL) != napi_ok || ttype != napi_float64_array ||
      opts_len != 5)
    return throw_arg_error(env, "The \"opts\" argument must be a Float64Array of 5 numbers");

  const double *opts = optsv;
  struct cf_job *job = calloc(1, sizeof *job);
  if (job == NULL)
    return throw_errno_detail(env, ENOMEM, "copyFilesStart", NULL, NULL);
  job->nfiles = meta_len / META_STRIDE;
  job->files = calloc(job->nfiles ? job->nfiles : 1, sizeof *job->files);
  job->names = malloc(names_len ? names_len : 1);
  if (job->files == NULL || job->names == NULL) {
    job_free(job);
    return throw_errno_detail(env, ENOMEM, "copyFilesStart", NULL, NULL);
  }
  memcpy(job->names, names, names_len);
  job->live = opts[0] != 0;
  job->owner = opts[1] == 1 ? OWNER_SOURCE : opts[1] == 2 ? OWNER_FIXED : OWNER_KEEP;
  job->uid = (uid_t)opts[2];
  job->gid = (gid_t)opts[3];
  int nthreads = opts[4] >= 1 && opts[4] <= MAX_THREADS ? (int)opts[4] : 1;

  const int32_t *meta = metav;
  for (size_t i = 0; i < job->nfiles; i++) {
    const int32_t *m = meta + i * META_STRIDE;
    struct cf_file *f = &job->files[i];
    f->srcdir = m[0];
    f->dstdir = m[3];
    const int32_t offs[2] = { m[1], m[4] }, lens[2] = { m[2], m[5] };
    const char **out[2] = { &f->src, &f->dst };
    for (int k = 0; k < 2; k++) {
      /* a name is one component, followed by its NUL: anything else is refused, not copied */
      size_t off = (size_t)offs[k], len = (size_t)lens[k];
      if (offs[k] < 0 || lens[k] < 1 || off + len >= names_len || job->names[off + len] != 0 ||
          memchr(job->names + off, 0, len) != NULL || memchr(job->names + off, '/', len) != NULL ||
          (len == 1 && job->names[off] == '.') || (len == 2 && memcmp(job->names + off, "..", 2) == 0)) {
        if (f->err == 0)
          set_result(f, EINVAL, k == 0 ? CF_STEP_SRC_OPEN : CF_STEP_DST_OPEN);
        *out[k] = "";
        continue;
      }
      *out[k] = job->names + off;
    }
  }

  atomic_init(&job->next, 0);
  job->nworkers = nthreads;
  for (int t = 0; t < nthreads; t++) {
    struct cf_worker *w = &job->workers[t];
    w->job = job;
    /* a thread that cannot start leaves its files to the others and to copyFilesWait */
    w->started = pthread_create(&w->th, NULL, cf_run, w) == 0;
  }
  if (napi_create_external(env, job, handle_finalize, NULL, &handle) != napi_ok) {
    job_free(job);
    return NULL;
  }
  return handle;
}

napi_value js_copy_files_wait(napi_env env, napi_callback_info info)
{
  napi_value argv[1], arg, ab;
  struct cf_job *job = NULL;
  napi_valuetype t;

  if (args_get(env, info, 1, argv) < 0)
    return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], (void **)&job) != napi_ok ||
      job == NULL)
    return throw_arg_error(env, "The \"handle\" argument must be a copyFilesStart handle");
  if (job->joined)
    return throw_arg_error(env, "copyFilesWait: this batch was waited for already");
  /*
   * The JS thread takes what is left rather than sleep in join: on a loaded machine a woken
   * thread waits for a CPU, and the JS thread, already on one, need not wait for them.
   */
  static char *js_buf;
  if (js_buf == NULL)
    js_buf = malloc(BUF_SIZE);
  cf_work(job, js_buf);
  job_join(job);

  size_t nres = 0;
  for (size_t i = 0; i < job->nfiles; i++)
    if (job->files[i].err != 0 || job->files[i].step != 0)
      nres++;
  if (nres == 0) {
    napi_get_null(env, &arg);
    return arg;
  }
  int32_t *out;
  if (napi_create_arraybuffer(env, nres * 3 * sizeof(int32_t), (void **)&out, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, nres * 3, ab, 0, &arg) != napi_ok)
    return NULL;
  for (size_t i = 0, k = 0; i < job->nfiles; i++) {
    if (job->files[i].err == 0 && job->files[i].step == 0)
      continue;
    out[k++] = (int32_t)i;
    out[k++] = job->files[i].err;
    out[k++] = job->files[i].step;
  }
  return arg;
}
