/**
 * HTTP transport for registries: Node's built-in fetch (undici) with bounded
 * retries and errors turned into TsrunErrors.
 *
 * Retried (exponential backoff, 4 tries in all): 429, 5xx, and connections
 * reset or cut mid-request. Not retried: connection refused and DNS failures
 * (a registry that is down stays down for the next 2 seconds too) and any
 * other 4xx. Request bodies are Buffers so a retry can send them again.
 * Redirects are followed by fetch, which drops Authorization when the
 * redirect leaves the origin (blob storage URLs are pre-signed).
 */
import { TsrunError } from '../util/errors.js';
import { proxiedFetch, proxyFor } from './proxy.js';

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** A streamed body (sent once: never retried). */
  stream?: AsyncIterable<Uint8Array>;
  /** Tries in all for retryable failures (default 4). */
  tries?: number;
  /** What the request is for, named in errors ("manifest of docker.io/library/x:1"). */
  what: string;
}

const RETRY_STATUS = (s: number) => s === 429 || (s >= 500 && s <= 599);
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Base delay of the backoff; tests shorten it with TSRUN_RETRY_BASE_MS. */
function baseDelay(): number {
  const v = Number(process.env.TSRUN_RETRY_BASE_MS);
  return Number.isFinite(v) && v >= 0 ? v : 250;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The system error code under a fetch failure (fetch wraps it in TypeError('fetch failed')). */
export function netCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && e.code !== 'ERR_INVALID_ARG_TYPE') return e.code;
    if (Array.isArray(e.errors) && e.errors.length) e = e.errors[0] as typeof e;
    else e = e.cause as typeof e;
  }
  return undefined;
}

/** Turn a fetch or stream failure into a NETWORK error naming the host. */
export function networkError(url: string, what: string, err: unknown): TsrunError {
  if (err instanceof TsrunError) return err;
  const code = netCode(err);
  const host = safeHost(url);
  let why: string;
  let hint: string;
  switch (code) {
    case 'ECONNREFUSED':
      why = `connection refused by ${host}`;
      hint = 'is the registry running and the address right?';
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      why = `cannot resolve host ${host.replace(/:\d+$/, '')} (DNS lookup failed)`;
      hint = 'check the registry name and the network';
      break;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      why = `connection to ${host} was reset`;
      hint = 'the registry or the network failed mid-transfer; try again';
      break;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      why = `timed out talking to ${host}`;
      hint = 'check the network; try again';
      break;
    default: {
      const m = (err as Error)?.message ?? String(err);
      if (/certificate|self.signed|SSL|TLS|EPROTO|wrong version number/i.test(`${code ?? ''} ${m} ${String((err as { cause?: Error })?.cause?.message ?? '')}`)) {
        why = `TLS failed with ${host}: ${(err as { cause?: Error })?.cause?.message ?? m}`;
        hint = `if ${host} speaks plain http, list it under "insecure" in the registry settings (TSRUN_REGISTRIES_CONF or /etc/tsrun/registries.json)`;
      } else {
        why = `cannot reach ${host}: ${code ?? (err as { cause?: Error })?.cause?.message ?? m}`;
        hint = 'check the network; try again';
      }
    }
  }
  return new TsrunError('NETWORK', `${what}: ${why}`, { hint, cause: err });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * One request with retries. Returns the final response whatever its status
 * (the caller decides what 401/404 mean); throws NETWORK for transport failures.
 */
export async function request(url: string, opts: RequestOptions): Promise<Response> {
  const tries = opts.stream ? 1 : (opts.tries ?? 4);
  // HTTP(S)_PROXY / NO_PROXY as Go reads them (proxy.ts); decided once per request by its URL
  const proxy = proxyFor(url);
  const send = proxy ? proxiedFetch(proxy) : fetch;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= tries; attempt++) {
    let res: Response | undefined;
    try {
      const body = (opts.stream ?? opts.body) as unknown as BodyInit | undefined;
      res = await send(url, { method: opts.method ?? 'GET', headers: opts.headers, body, redirect: 'follow', ...(opts.stream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      lastErr = err;
      const code = netCode(err);
      if (!code || !RETRY_CODES.has(code) || attempt === tries) throw networkError(url, opts.what, err);
    }
    if (res) {
      if (!RETRY_STATUS(res.status) || attempt === tries) return res;
      await res.body?.cancel().catch(() => {});
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0 && after <= 10) {
        await sleep(after * 1000);
        continue;
      }
    }
    await sleep(baseDelay() * 2 ** (attempt - 1) * (0.75 + Math.random() / 2));
  }
  throw networkError(url, opts.what, lastErr);
}

/** Read a whole body, refusing more than `max` bytes (checks Content-Length first, then counts). */
export async function readBounded(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new TsrunError('TOO_LARGE', `${what} is ${declared} bytes, more than the limit of ${max}`, { hint: 'the registry sent something that is not a normal manifest' });
  }
  const chunks: Buffer[] = [];
  let len = 0;
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      len += value.length;
      if (len > max) {
        await reader.cancel().catch(() => {});
        throw new TsrunError('TOO_LARGE', `${what} is more than the limit of ${max} bytes`, { hint: 'the registry sent something that is not a normal manifest' });
      }
      chunks.push(Buffer.from(value));
    }
  } catch (err) {
    if (err instanceof TsrunError) throw err;
    throw networkError(res.url, what, err);
  }
  return Buffer.concat(chunks);
}

/** The first error of a registry's JSON error body ({"errors":[{"code","message"}]}), if any. */
export async function registryErrorText(res: Response): Promise<string | undefined> {
  try {
    const buf = await readBounded(res, 64 * 1024, 'error body');
    const v = JSON.parse(buf.toString('utf8')) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    const e = v.errors?.[0];
    if (!e) return undefined;
    return (e.message || e.code || '').toString().toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}
