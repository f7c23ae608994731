/*
 * gzipDeflate(input, level) -> Promise<Buffer>: one complete gzip member of
 * `input`, made by libdeflate on libuv's thread pool.
 *
 * Why: push is CPU-bound in gzip, and libdeflate compresses a whole buffer at
 * level 6 in about half the CPU time of zlib (no streaming state, better
 * match finder). Why off the JS thread: the caller (src/registry/pgzip.ts)
 * keeps several 4 MiB pieces in flight so they compress on every core, and
 * the JS thread stays free to hash and send the pieces already done.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <libdeflate.h>
#include <stdlib.h>

struct gzip_job {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref; /* keeps the input Buffer alive while a pool thread reads it */
  const void *in;
  size_t in_len;
  int level;
  void *out;
  size_t out_len;
  const char *error; /* set by execute; static string */
};

static void job_free(napi_env env, struct gzip_job *job)
{
  if (job->input_ref != NULL)
    napi_delete_reference(env, job->input_ref);
  if (job->work != NULL)
    napi_delete_async_work(env, job->work);
  free(job->out);
  free(job);
}

/* Pool thread: no N-API calls here. */
static void gzip_execute(napi_env env, void *data)
{
  struct gzip_job *job = data;
  (void)env;
  /* A compressor per call: allocating one costs microseconds next to
   * compressing 4 MiB, and it needs no locking between pool threads. */
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(job->level);
  if (c == NULL) {
    job->error = "libdeflate_alloc_compressor failed (out of memory)";
    return;
  }
  size_t bound = libdeflate_gzip_compress_bound(c, job->in_len);
  job->out = malloc(bound ? bound : 1);
  if (job->out == NULL) {
    job->error = "out of memory";
  } else {
    job->out_len = libdeflate_gzip_compress(c, job->in, job->in_len, job->out, bound);
    if (job->out_len == 0)
      job->error = "libdeflate_gzip_compress: output did not fit its bound";
  }
  libdeflate_free_compressor(c);
}

static void free_output(napi_env env, void *data, void *hint)
{
  (void)env;
  (void)hint;
  free(data);
}

/* JS thread: settle the promise and release everything the job held. */
static void gzip_complete(napi_env env, napi_status status, void *data)
{
  struct gzip_job *job = data;
  napi_value result = NULL, msg;

  if (status == napi_cancelled)
    job->error = "cancelled";
  if (job->error == NULL) {
    /* Hand the malloc'd bytes to the Buffer (no copy); shrink them from the
     * worst-case bound first. Fall back to a copy where external buffers are
     * not allowed. */
    void *shrunk = realloc(job->out, job->out_len ? job->out_len : 1);
    if (shrunk != NULL)
      job->out = shrunk;
    if (napi_create_external_buffer(env, job->out_len, job->out, free_output, NULL, &result) == napi_ok) {
      job->out = NULL; /* owned by the Buffer now */
    } else if (napi_create_buffer_copy(env, job->out_len, job->out, NULL, &result) != napi_ok) {
      result = NULL;
      job->error = "cannot create the output Buffer";
    }
  }
  if (job->error == NULL) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value err;
    napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  job_free(env, job);
}

napi_value js_gzip_deflate(napi_env env, napi_callback_info info)
{
  napi_value argv[2], promise, name;
  void *in = NULL;
  size_t in_len = 0;
  int32_t level = 0;

  if (args_get(env, info, 2, argv) < 0 ||
      arg_bytes(env, argv[0], &in, &in_len, "input") < 0 ||
      arg_int32(env, argv[1], &level, "level") < 0)
    return NULL;
  /* libdeflate's levels: 0 (stored) to 12; 1-9 mean what zlib's do. */
  if (level < 0 || level > 12) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The \"level\" argument must be an integer from 0 to 12");
    return NULL;
  }

  struct gzip_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  job->in = in;
  job->in_len = in_len;
  job->level = level;
  if (napi_create_reference(env, argv[0], 1, &job->input_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "tsrun:gzipDeflate", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, gzip_execute, gzip_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* A created promise that is never settled is only garbage; the error is what the caller sees. */
    job_free(env, job);
    napi_throw_error(env, NULL, "gzipDeflate: cannot start the compression");
    return NULL;
  }
  return promise;
}
