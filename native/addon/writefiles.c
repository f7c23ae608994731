/*
 * writeFiles(paths, meta, bufs, done): create and fill a batch of new regular
 * files on libuv's thread pool, for layer unpacking (src/diff/apply-batch.ts).
 *
 * Why: a layer is mostly small files, and written one by one from JS each
 * costs two pool round trips (open, write) and four synchronous calls
 * (fchown, fchmod, futimes, close) on the JS thread, plus, on a 2-core
 * machine, a wake-up of a pool thread that often preempts the JS thread.
 * Here the JS thread hands over ~100 files at once and goes on parsing the
 * tar while one pool thread does every syscall of the batch.
 *
 * For file i (meta holds META_STRIDE doubles per file):
 *   path   = paths[pathOff .. pathOff+pathLen), followed by a NUL byte;
 *   data   = the next `nbufs` Buffers of bufs, written in order from offset 0;
 *   then open(O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600), write,
 *   fchown(uid, gid), fchmod(mode) (after chown, which clears setuid),
 *   futimens(atime, mtime) (seconds, rounded to microseconds as libuv does),
 *   close. A file that fails stops at that step (its fd closed); the others
 *   go on. done(failures) is called on the JS thread with null, or an
 *   Int32Array of [index, errno, step] triples (step: WF_STEP_*).
 *
 * The Buffers stay referenced until done runs; nothing here calls N-API off
 * the JS thread.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define META_STRIDE 8 /* pathOff, pathLen, nbufs, uid, gid, mode, atime, mtime */

enum { WF_STEP_OPEN, WF_STEP_WRITE, WF_STEP_CHOWN, WF_STEP_CHMOD, WF_STEP_UTIMES, WF_STEP_CLOSE };

struct wf_file {
  const char *path;
  size_t first_buf; /* index into job->iov */
  size_t nbufs;
  uid_t uid;
  gid_t gid;
  mode_t mode;
  struct timespec times[2];
  int err;  /* 0, or the errno of the failed step */
  int step;
};

struct wf_job {
  napi_async_work work;
  napi_ref paths_ref, bufs_ref, done_ref;
  size_t nfiles;
  struct wf_file *files;
  struct iovec *iov;
};

/* libuv's uv__fs_to_timespec: node:fs futimes rounds to microseconds; so do we, so both paths agree. */
static struct timespec to_timespec(double t)
{
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

static void job_free(napi_env env, struct wf_job *job)
{
  if (job->paths_ref != NULL)
    napi_delete_reference(env, job->paths_ref);
  if (job->bufs_ref != NULL)
    napi_delete_reference(env, job->bufs_ref);
  if (job->done_ref != NULL)
    napi_delete_reference(env, job->done_ref);
  if (job->work != NULL)
    napi_delete_async_work(env, job->work);
  free(job->files);
  free(job->iov);
  free(job);
}

/* All of iov[0..n) at the file's current offset; partial writes resume. */
static int write_all(int fd, struct iovec *iov, size_t n)
{
  while (n > 0) {
    int cnt = n > IOV_MAX ? IOV_MAX : (int)n;
    ssize_t w = writev(fd, iov, cnt);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    size_t done = (size_t)w;
    while (n > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + done;
      iov->iov_len -= done;
    }
  }
  return 0;
}

static void write_one(struct wf_job *job, struct wf_file *f)
{
  int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    f->err = errno;
    f->step = WF_STEP_OPEN;
    return;
  }
  int step = -1;
  if (write_all(fd, job->iov + f->first_buf, f->nbufs) < 0)
    step = WF_STEP_WRITE;
  else if (fchown(fd, f->uid, f->gid) < 0)
    step = WF_STEP_CHOWN;
  else if (fchmod(fd, f->mode) < 0)
    step = WF_STEP_CHMOD;
  else if (futimens(fd, f->times) < 0)
    step = WF_STEP_UTIMES;
  if (step >= 0) {
    f->err = errno;
    f->step = step;
    close(fd);
    return;
  }
  if (close(fd) < 0) {
    f->err = errno;
    f->step = WF_STEP_CLOSE;
  }
}

/* Pool thread: syscalls only. */
static void wf_execute(napi_env env, void *data)
{
  struct wf_job *job = data;
  (void)env;
  for (size_t i = 0; i < job->nfiles; i++)
    if (job->files[i].err == 0)
      write_one(job, &job->files[i]);
}

/* JS thread: report the failures and release the Buffers. */
static void wf_complete(napi_env env, napi_status status, void *data)
{
  struct wf_job *job = data;
  napi_value done, global, arg, ab;
  size_t nfail = 0;

  for (size_t i = 0; i < job->nfiles; i++) {
    if (status != napi_ok && job->files[i].err == 0) {
      job->files[i].err = ECANCELED;
      job->files[i].step = WF_STEP_OPEN;
    }
    if (job->files[i].err != 0)
      nfail++;
  }
  if (napi_get_reference_value(env, job->done_ref, &done) != napi_ok || napi_get_global(env, &global) != napi_ok) {
    job_free(env, job);
    return;
  }
  if (nfail == 0) {
    napi_get_null(env, &arg);
  } else {
    int32_t *out;
    if (napi_create_arraybuffer(env, nfail * 3 * sizeof(int32_t), (void **)&out, &ab) != napi_ok ||
        napi_create_typedarray(env, napi_int32_array, nfail * 3, ab, 0, &arg) != napi_ok) {
      job_free(env, job);
      return;
    }
    for (size_t i = 0, k = 0; i < job->nfiles; i++) {
      if (job->files[i].err == 0)
        continue;
      out[k++] = (int32_t)i;
      out[k++] = job->files[i].err;
      out[k++] = job->files[i].step;
    }
  }
  /* Free first: the callback may queue the next batch. An exception it throws is Node's uncaught one. */
  job_free(env, job);
  napi_call_function(env, global, done, 1, &arg, NULL);
}

static napi_value fail(napi_env env, struct wf_job *job, const char *msg)
{
  job_free(env, job);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

napi_value js_write_files(napi_env env, napi_callback_info info)
{
  napi_value argv[4], name;
  void *paths = NULL, *metav = NULL;
  size_t paths_len = 0, meta_len = 0;
  napi_typedarray_type ttype;
  uint32_t nbufs_total = 0;
  napi_valuetype t;
  bool is_array = false;

  if (args_get(env, info, 4, argv) < 0 || arg_bytes(env, argv[0], &paths, &paths_len, "paths") < 0)
    return NULL;
  if (napi_get_typedarray_info(env, argv[1], &ttype, &meta_len, &metav, NULL, NULL) != napi_ok || ttype != napi_float64_array ||
      meta_len % META_STRIDE != 0)
    return throw_arg_error(env, "The \"meta\" argument must be a Float64Array of 8 numbers per file");
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &nbufs_total) != napi_ok)
    return throw_arg_error(env, "The \"bufs\" argument must be an Array of Buffers");
  if (napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function)
    return throw_arg_error(env, "The \"done\" argument must be a function");

  struct wf_job *job = calloc(1, sizeof *job);
  if (job == NULL)
    return fail(env, NULL, "out of memory");
  job->nfiles = meta_len / META_STRIDE;
  job->files = calloc(job->nfiles ? job->nfiles : 1, sizeof *job->files);
  job->iov = calloc(nbufs_total ? nbufs_total : 1, sizeof *job->iov);
  if (job->files == NULL || job->iov == NULL)
    return fail(env, job, "out of memory");

  const double *meta = metav;
  size_t next_buf = 0;
  for (size_t i = 0; i < job->nfiles; i++) {
    const double *m = meta + i * META_STRIDE;
    struct wf_file *f = &job->files[i];
    double off = m[0], len = m[1], nb = m[2];
    if (!(off >= 0 && len >= 1 && off + len <= (double)paths_len && nb >= 0 && nb <= (double)(nbufs_total - next_buf))) {
      job_free(env, job);
      return throw_arg_error(env, "The \"meta\" argument does not match paths and bufs");
    }
    const char *p = (const char *)paths + (size_t)off;
    f->path = p;
    /* each path is followed by a NUL; one inside it would name another file */
    if ((size_t)off + (size_t)len >= paths_len || p[(size_t)len] != 0 || memchr(p, 0, (size_t)len) != NULL) {
      f->err = EINVAL;
      f->step = WF_STEP_OPEN;
    }
    f->first_buf = next_buf;
    f->nbufs = (size_t)nb;
    for (size_t b = 0; b < f->nbufs; b++, next_buf++) {
      napi_value v;
      void *d;
      size_t dl;
      if (napi_get_element(env, argv[2], (uint32_t)next_buf, &v) != napi_ok || arg_bytes(env, v, &d, &dl, "bufs[i]") < 0) {
        job_free(env, job);
        return NULL;
      }
      job->iov[next_buf].iov_base = d;
      job->iov[next_buf].iov_len = dl;
    }
    f->uid = (uid_t)m[3];
    f->gid = (gid_t)m[4];
    f->mode = (mode_t)m[5];
    f->times[0] = to_timespec(m[6]);
    f->times[1] = to_timespec(m[7]);
  }

  if (napi_create_reference(env, argv[0], 1, &job->paths_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &job->bufs_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &job->done_ref) != napi_ok ||
      napi_create_string_utf8(env, "tsrun:writeFiles", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, wf_execute, wf_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok)
    return fail(env, job, "writeFiles: cannot start the batch");
  return js_undefined(env);
}
