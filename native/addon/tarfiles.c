/*
 * tarFiles(fd, headers, paths, meta, done): a tar stream written to the blob
 * file `fd` and sha256'd; the headers are made in JS (src/diff/tar-writer.ts:
 * the same bytes as every layer's), the file data is read here. For COPY's
 * layer writer (src/ops/build/copy-layer-direct.ts).
 *
 * Why: from JS, each of a COPY's 10,000 files cost an open, reads, a close
 * and a sha256 update on the JS thread plus a hand-over to the blob writer's
 * worker: as long again as all of `tar -c | sha256sum`. Here a pool thread
 * opens, reads and (for the build cache) hashes each file into a ring of
 * slots, and a thread of ours hashes the stream and writes it: the two
 * halves of `tar | sha256sum`, on two cores.
 *
 * The stream: headers[0 .. file 0's hdrOff), file 0's data padded to 512,
 * headers[.. file 1's hdrOff), file 1's data, …, the rest of headers (the
 * end-of-archive blocks are in it). Exactly `size` bytes of each file: one
 * that shrank since its stat is padded with zeros, one that grew is cut, as
 * tar-writer.ts's fileData does. meta: META_STRIDE doubles per file (hdrOff,
 * size, wantSum: 1 to sha256 its bytes too). paths: NUL-terminated, in
 * order; opened O_RDONLY|O_NOFOLLOW.
 *
 * done(failure, digest, got, sums) on the JS thread: failure null or [index,
 * errno, step] (TF_STEP_*; index -1: the blob's write); digest the stream's
 * sha256 (hex); got the bytes read from each file (Float64Array); sums 32
 * bytes per file (zeros where not wanted).
 *
 * sha256: OpenSSL's as the node binary exports it (Node's contract for
 * addons; node-gyp brings its headers): node:crypto's SHA-NI code.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* SHA256_*: no provider lookup per file, unlike EVP in OpenSSL 3 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META_STRIDE 3 /* hdrOff, size, wantSum */
#define NSLOTS 8
#define SLOT_SIZE (2u << 20)
#define BLOCK 512

enum { TF_STEP_OPEN, TF_STEP_READ, TF_STEP_WRITE };

struct tf_file {
  const char *path;
  uint64_t hdr_off;
  uint64_t size;
  int want_sum;
  uint64_t got;
  unsigned char sum[SHA256_DIGEST_LENGTH];
};

/* The ring between the reader (pool thread) and the writer (our thread). */
struct tf_ring {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned char *buf[NSLOTS];
  size_t len[NSLOTS];
  uint64_t head; /* slots published by the reader */
  uint64_t tail; /* slots written by the writer */
  int done;      /* 1: no more slots; 2: stop now (the reader failed) */
  int werr;      /* the writer's errno, 0 while it is fine */
};

struct tf_job {
  napi_async_work work;
  napi_ref headers_ref, paths_ref, done_ref;
  int fd;
  const unsigned char *headers;
  size_t headers_len;
  size_t nfiles;
  struct tf_file *files;
  /* results */
  int err, step;
  long err_index;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  /* the reader's place in the ring */
  struct tf_ring ring;
  int ring_init; /* mu and cv made */
  size_t pos;   /* bytes in the slot being filled */
  int threaded; /* 0: the stream fits in one slot, hashed and written by the reader at the end */
  SHA256_CTX tar_sha;
};

static void job_free(napi_env env, struct tf_job *job)
{
  if (job->headers_ref != NULL)
    napi_delete_reference(env, job->headers_ref);
  if (job->paths_ref != NULL)
    napi_delete_reference(env, job->paths_ref);
  if (job->done_ref != NULL)
    napi_delete_reference(env, job->done_ref);
  if (job->work != NULL)
    napi_delete_async_work(env, job->work);
  if (job->ring_init) {
    pthread_mutex_destroy(&job->ring.mu);
    pthread_cond_destroy(&job->ring.cv);
  }
  for (int i = 0; i < NSLOTS; i++)
    free(job->ring.buf[i]);
  free(job->files);
  free(job);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The writer thread: hash and write each published slot, in order. */
static void *writer_main(void *arg)
{
  struct tf_job *job = arg;
  struct tf_ring *r = &job->ring;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (r->tail == r->head && r->done == 0)
      pthread_cond_wait(&r->cv, &r->mu);
    if (r->done == 2 || (r->tail == r->head && r->done == 1))
      break;
    size_t i = r->tail % NSLOTS;
    size_t len = r->len[i];
    pthread_mutex_unlock(&r->mu);
    SHA256_Update(&job->tar_sha, r->buf[i], len);
    int err = write_all(job->fd, r->buf[i], len) < 0 ? errno : 0;
    pthread_mutex_lock(&r->mu);
    r->tail++;
    pthread_cond_broadcast(&r->cv);
    if (err != 0) {
      r->werr = err;
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* Hand the full slot to the writer and wait for a free one; -1 when the writer failed. */
static int publish(struct tf_job *job)
{
  struct tf_ring *r = &job->ring;
  pthread_mutex_lock(&r->mu);
  r->len[r->head % NSLOTS] = job->pos;
  r->head++;
  pthread_cond_broadcast(&r->cv);
  while (r->head - r->tail >= NSLOTS && r->werr == 0)
    pthread_cond_wait(&r->cv, &r->mu);
  int werr = r->werr;
  pthread_mutex_unlock(&r->mu);
  job->pos = 0;
  if (werr != 0) {
    job->err = werr;
    job->step = TF_STEP_WRITE;
    job->err_index = -1;
    return -1;
  }
  return 0;
}

static unsigned char *cur(struct tf_job *job)
{
  return job->ring.buf[job->ring.head % NSLOTS];
}

/* Room in the current slot, publishing it first when it is full. */
static size_t room(struct tf_job *job)
{
  if (job->pos == SLOT_SIZE && (!job->threaded || publish(job) < 0))
    return 0;
  return SLOT_SIZE - job->pos;
}

static int emit(struct tf_job *job, const unsigned char *p, size_t n, int zeros)
{
  while (n > 0) {
    size_t k = room(job);
    if (k == 0)
      return -1;
    if (k > n)
      k = n;
    if (zeros)
      memset(cur(job) + job->pos, 0, k);
    else
      memcpy(cur(job) + job->pos, p, k);
    job->pos += k;
    n -= k;
    if (!zeros)
      p += k;
  }
  return 0;
}

/* One file's `size` bytes (zeros after an early EOF) and its padding, straight into the slots. */
static int emit_file(struct tf_job *job, size_t index)
{
  struct tf_file *f = &job->files[index];
  int fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    job->err = errno;
    job->step = TF_STEP_OPEN;
    job->err_index = (long)index;
    return -1;
  }
  SHA256_CTX sha;
  if (f->want_sum)
    SHA256_Init(&sha);
  uint64_t left = f->size;
  int eof = 0;
  while (left > 0) {
    size_t k = room(job);
    if (k == 0) {
      close(fd);
      return -1;
    }
    if (k > left)
      k = (size_t)left;
    ssize_t n = 0;
    if (!eof) {
      n = read(fd, cur(job) + job->pos, k);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        job->err = errno;
        job->step = TF_STEP_READ;
        job->err_index = (long)index;
        close(fd);
        return -1;
      }
      if (n == 0)
        eof = 1;
      else if (f->want_sum)
        SHA256_Update(&sha, cur(job) + job->pos, (size_t)n);
    }
    if (n == 0) {
      memset(cur(job) + job->pos, 0, k);
      n = (ssize_t)k;
    } else {
      f->got += (uint64_t)n;
    }
    job->pos += (size_t)n;
    left -= (uint64_t)n;
  }
  close(fd);
  if (f->want_sum)
    SHA256_Final(f->sum, &sha);
  size_t pad = (size_t)(f->size % BLOCK);
  return pad ? emit(job, NULL, BLOCK - pad, 1) : 0;
}

static int emit_all(struct tf_job *job)
{
  uint64_t at = 0;
  for (size_t i = 0; i < job->nfiles; i++) {
    struct tf_file *f = &job->files[i];
    if (emit(job, job->headers + at, (size_t)(f->hdr_off - at), 0) < 0 || emit_file(job, i) < 0)
      return -1;
    at = f->hdr_off;
  }
  return emit(job, job->headers + at, job->headers_len - (size_t)at, 0);
}

/* Pool thread: syscalls and hashing only. */
static void tf_execute(napi_env env, void *data)
{
  struct tf_job *job = data;
  struct tf_ring *r = &job->ring;
  (void)env;
  SHA256_Init(&job->tar_sha);
  if (!job->threaded) {
    /* one slot holds it all: no thread for a small COPY */
    if (emit_all(job) == 0) {
      SHA256_Update(&job->tar_sha, r->buf[0], job->pos);
      if (write_all(job->fd, r->buf[0], job->pos) < 0) {
        job->err = errno;
        job->step = TF_STEP_WRITE;
        job->err_index = -1;
      }
    }
  } else {
    pthread_t writer;
    int e = pthread_create(&writer, NULL, writer_main, job);
    if (e != 0) {
      job->err = e;
      job->step = TF_STEP_WRITE;
      job->err_index = -1;
      return;
    }
    int ok = emit_all(job) == 0 && (job->pos == 0 || publish(job) == 0);
    pthread_mutex_lock(&r->mu);
    r->done = ok ? 1 : 2;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(writer, NULL);
    if (ok && r->werr != 0) {
      job->err = r->werr;
      job->step = TF_STEP_WRITE;
      job->err_index = -1;
    }
  }
  if (job->err == 0)
    SHA256_Final(job->digest, &job->tar_sha);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
}

/* JS thread: hand the results over and release the Buffers. */
static void tf_complete(napi_env env, napi_status status, void *data)
{
  struct tf_job *job = data;
  napi_value done, global, args[4], ab;
  if (status != napi_ok && job->err == 0) {
    job->err = ECANCELED;
    job->step = TF_STEP_WRITE;
    job->err_index = -1;
  }
  if (napi_get_reference_value(env, job->done_ref, &done) != napi_ok || napi_get_global(env, &global) != napi_ok) {
    job_free(env, job);
    return;
  }
  int ok = 1;
  if (job->err != 0) {
    int32_t *fail;
    ok = napi_create_arraybuffer(env, 3 * sizeof(int32_t), (void **)&fail, &ab) == napi_ok &&
         napi_create_typedarray(env, napi_int32_array, 3, ab, 0, &args[0]) == napi_ok;
    if (ok) {
      fail[0] = (int32_t)job->err_index;
      fail[1] = job->err;
      fail[2] = job->step;
    }
    napi_get_null(env, &args[1]);
    napi_get_null(env, &args[2]);
    napi_get_null(env, &args[3]);
  } else {
    char text[2 * SHA256_DIGEST_LENGTH];
    double *got;
    unsigned char *sums;
    size_t n = job->nfiles;
    napi_get_null(env, &args[0]);
    hex(job->digest, SHA256_DIGEST_LENGTH, text);
    ok = napi_create_string_latin1(env, text, sizeof text, &args[1]) == napi_ok &&
         napi_create_arraybuffer(env, (n ? n : 1) * sizeof(double), (void **)&got, &ab) == napi_ok &&
         napi_create_typedarray(env, napi_float64_array, n, ab, 0, &args[2]) == napi_ok &&
         napi_create_buffer(env, n * SHA256_DIGEST_LENGTH, (void **)&sums, &args[3]) == napi_ok;
    if (ok) {
      for (size_t i = 0; i < n; i++) {
        got[i] = (double)job->files[i].got;
        memcpy(sums + i * SHA256_DIGEST_LENGTH, job->files[i].sum, SHA256_DIGEST_LENGTH);
      }
    }
  }
  job_free(env, job);
  if (ok)
    napi_call_function(env, global, done, 4, args, NULL);
}

static napi_value fail(napi_env env, struct tf_job *job, const char *msg)
{
  job_free(env, job);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

napi_value js_tar_files(napi_env env, napi_callback_info info)
{
  napi_value argv[5], name;
  void *headers = NULL, *paths = NULL, *metav = NULL;
  size_t headers_len = 0, paths_len = 0, meta_len = 0;
  napi_typedarray_type ttype;
  napi_valuetype t;
  int32_t fd;

  if (args_get(env, info, 5, argv) < 0 || arg_int32(env, argv[0], &fd, "fd") < 0 ||
      arg_bytes(env, argv[1], &headers, &headers_len, "headers") < 0 || arg_bytes(env, argv[2], &paths, &paths_len, "paths") < 0)
    return NULL;
  if (napi_get_typedarray_info(env, argv[3], &ttype, &meta_len, &metav, NULL, NULL) != napi_ok || ttype != napi_float64_array ||
      meta_len % META_STRIDE != 0)
    return throw_arg_error(env, "The \"meta\" argument must be a Float64Array of 3 numbers per file");
  if (napi_typeof(env, argv[4], &t) != napi_ok || t != napi_function)
    return throw_arg_error(env, "The \"done\" argument must be a function");

  struct tf_job *job = calloc(1, sizeof *job);
  if (job == NULL)
    return fail(env, NULL, "out of memory");
  job->fd = fd;
  job->headers = headers;
  job->headers_len = headers_len;
  job->nfiles = meta_len / META_STRIDE;
  job->files = calloc(job->nfiles ? job->nfiles : 1, sizeof *job->files);
  if (job->files == NULL)
    return fail(env, job, "out of memory");

  const double *meta = metav;
  const char *p = paths, *end = (const char *)paths + paths_len;
  uint64_t prev = 0, total = headers_len;
  for (size_t i = 0; i < job->nfiles; i++) {
    const double *m = meta + i * META_STRIDE;
    struct tf_file *f = &job->files[i];
    const char *nul = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
    /* offsets in order and inside headers; sizes whole numbers a double holds exactly */
    if (nul == NULL || !(m[0] >= (double)prev && m[0] <= (double)headers_len && m[1] >= 0 && m[1] <= 9007199254740992.0 &&
                         m[1] == (double)(uint64_t)m[1])) {
      job_free(env, job);
      return throw_arg_error(env, "The \"meta\" argument does not match headers and paths");
    }
    f->path = p;
    p = nul + 1;
    f->hdr_off = prev = (uint64_t)m[0];
    f->size = (uint64_t)m[1];
    f->want_sum = m[2] != 0;
    total += f->size + (BLOCK - f->size % BLOCK) % BLOCK;
  }
  job->threaded = total > SLOT_SIZE;
  for (int i = 0; i < (job->threaded ? NSLOTS : 1); i++) {
    job->ring.buf[i] = malloc(SLOT_SIZE);
    if (job->ring.buf[i] == NULL)
      return fail(env, job, "out of memory");
  }
  pthread_mutex_init(&job->ring.mu, NULL);
  pthread_cond_init(&job->ring.cv, NULL);
  job->ring_init = 1;

  if (napi_create_reference(env, argv[1], 1, &job->headers_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &job->paths_ref) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &job->done_ref) != napi_ok ||
      napi_create_string_utf8(env, "tsrun:tarFiles", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, tf_execute, tf_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok)
    return fail(env, job, "tarFiles: cannot start");
  return js_undefined(env);
}
