/**
 * Registry authentication: anonymous first; on 401 answer the challenge.
 *  - Bearer (Docker Hub, distribution's token auth): GET realm?service=…&scope=…
 *    (with Basic credentials when we have them) → {token | access_token} →
 *    retry with `Authorization: Bearer …`. Tokens are cached per scope set.
 *  - Basic: retry with `Authorization: Basic base64(user:pass)`.
 * One Authorizer serves one registry endpoint for one command.
 */
import { TsrunError } from '../util/errors.js';
import type { Credentials } from './credentials.js';
import { pickChallenge, type Challenge } from './challenge.js';
import { readBounded, registryErrorText, request } from './transport.js';

export class Authorizer {
  private challenge?: Challenge;
  private readonly tokens = new Map<string, string>();

  constructor(
    /** registry name for messages and hints, e.g. docker.io or 127.0.0.1:5000 */
    readonly registry: string,
    private readonly creds: Credentials | undefined,
  ) {}

  get hasCredentials(): boolean {
    return !!this.creds;
  }

  /** The Authorization header for these scopes, if we already know how to authorise. */
  header(scopes: string[]): string | undefined {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basic();
    const tok = this.tokens.get(scopeKey(scopes));
    return tok ? `Bearer ${tok}` : undefined;
  }

  private basic(): string | undefined {
    return this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : undefined;
  }

  /**
   * Learn from a 401: returns true when a retry with `header(scopes)` may
   * succeed, false when there is nothing more to try (the caller then
   * reports AUTH).
   */
  async answer(res: Response, scopes: string[]): Promise<boolean> {
    const ch = pickChallenge(res.headers.get('www-authenticate'));
    await res.body?.cancel().catch(() => {});
    if (!ch) return false;
    const before = this.header(scopes);
    this.challenge = ch;
    if (ch.scheme === 'basic') {
      const h = this.basic();
      return !!h && h !== before;
    }
    if (ch.scheme !== 'bearer') return false;
    if (this.tokens.has(scopeKey(scopes)) && before) {
      // the token we had was refused: forget it and try once for a new one
      this.tokens.delete(scopeKey(scopes));
    }
    await this.fetchToken(ch, scopes);
    return true;
  }

  private async fetchToken(ch: Challenge, scopes: string[]): Promise<void> {
    const realm = ch.params.realm;
    if (!realm) throw new TsrunError('AUTH', `${this.registry} asked for a bearer token but named no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new TsrunError('AUTH', `${this.registry} sent an invalid token realm ${JSON.stringify(realm)}`);
    }
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    const wanted = scopes.length ? scopes : ch.params.scope ? [ch.params.scope] : [];
    for (const s of wanted) url.searchParams.append('scope', s);
    if (this.creds) url.searchParams.set('account', this.creds.username);
    const headers: Record<string, string> = {};
    const b = this.basic();
    if (b) headers.authorization = b;
    const res = await request(url.toString(), { headers, what: `token for ${this.registry}` });
    if (res.status === 401 || res.status === 403) {
      const text = await registryErrorText(res);
      throw authError(this.registry, this.hasCredentials, text);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new TsrunError('AUTH', `token server for ${this.registry} answered ${res.status}`, { hint: 'try again later' });
    }
    const body = await readBounded(res, 1024 * 1024, `token for ${this.registry}`);
    let tok: string | undefined;
    try {
      const v = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      tok = typeof v.token === 'string' && v.token ? v.token : typeof v.access_token === 'string' ? v.access_token : undefined;
    } catch {
      tok = undefined;
    }
    if (!tok) throw new TsrunError('AUTH', `token server for ${this.registry} sent no token`);
    this.tokens.set(scopeKey(scopes), tok);
  }
}

function scopeKey(scopes: string[]): string {
  return [...scopes].sort().join(' ');
}

export function authError(registry: string, hadCreds: boolean, detail?: string): TsrunError {
  const why = detail ? `: ${detail}` : '';
  return new TsrunError(
    'AUTH',
    hadCreds ? `access to ${registry} denied with the stored credentials${why}` : `authentication required by ${registry}${why}`,
    { hint: hadCreds ? `check the name and your rights; \`tsrun login ${registry}\` to change credentials` : `run \`tsrun login ${registry}\` first` },
  );
}
