/**
 * A tiny bearer-token issuer for registry tests, run as its own process
 * (tests call the CLI with spawnSync, which blocks their event loop):
 *   node dist/test/helpers/token-issuer.js PORTFILE KEY.pem CERT.pem USERS.json SERVICE ISSUER
 * GET /token?service=…&scope=…[&scope=…] with Basic credentials from USERS.json
 * ({"user":"pass"}) → {token, access_token, expires_in, issued_at}; a JWT
 * signed ES256 with KEY, carrying CERT in x5c so the registry checks it
 * against its rootcertbundle. Anonymous or bad credentials → 401, like a
 * private Docker Hub repository. Every request is appended to PORTFILE.log.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [portFile, keyFile, certFile, usersFile, service, issuer] = process.argv.slice(2) as [string, string, string, string, string, string];
const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
const certDer = new crypto.X509Certificate(fs.readFileSync(certFile)).raw.toString('base64');
const users = JSON.parse(fs.readFileSync(usersFile, 'utf8')) as Record<string, string>;
const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function sign(sub: string, access: unknown[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', typ: 'JWT', x5c: [certDer] };
  const claims = { iss: issuer, sub, aud: service, exp: now + 600, nbf: now - 30, iat: now, jti: crypto.randomBytes(8).toString('hex'), access };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  fs.appendFileSync(`${portFile}.log`, `${req.method} ${req.url} auth=${req.headers.authorization ? req.headers.authorization.split(' ')[0] : 'none'}\n`);
  const auth = req.headers.authorization ?? '';
  let user: string | undefined;
  if (auth.startsWith('Basic ')) {
    const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
    if (u && users[u] !== undefined && users[u] === p.join(':')) user = u;
  }
  if (!user) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
    return;
  }
  const access = url.searchParams.getAll('scope').map((s) => {
    const [type, ...rest] = s.split(':');
    const actions = rest.pop() ?? '';
    return { type, name: rest.join(':'), actions: actions.split(',').filter(Boolean) };
  });
  const token = sign(user, access);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ token, access_token: token, expires_in: 600, issued_at: new Date().toISOString() }));
});
// written aside and renamed: the test reads the file as soon as it exists
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  fs.writeFileSync(`${portFile}.tmp`, String(addr.port));
  fs.renameSync(`${portFile}.tmp`, portFile);
});
