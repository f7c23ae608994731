/**
 * A misbehaving HTTP front for registry tests, run as its own process:
 *   node dist/test/helpers/registry-proxy.js PORTFILE MODE [UPSTREAM]
 * MODE:
 *  - cut-blobs:     forward to UPSTREAM (http://127.0.0.1:P) but send only
 *                   half of every blob body, then drop the connection
 *  - nonjson:       a fake registry whose manifests are not JSON
 *  - huge:          a fake registry whose manifest is 5 MiB
 *  - huge-nolength: the same, without Content-Length (chunked)
 *  - flaky:         forward to UPSTREAM, but answer the first try of every
 *                   manifest GET with 503, of every blob GET with 429, and
 *                   reset the connection on the first try of the tags list;
 *                   every request is logged to PORTFILE.log
 */
import http from 'node:http';
import fs from 'node:fs';

const [portFile, mode, upstream] = process.argv.slice(2) as [string, string, string | undefined];

const seen = new Set<string>();

/** Forward a request to UPSTREAM as it is. */
function forward(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
  const up = new URL(upstream!);
  const preq = http.request({ host: up.hostname, port: up.port, path: url, method: req.method, headers: { ...req.headers, host: up.host } }, (pres) => {
    res.writeHead(pres.statusCode ?? 502, pres.headers);
    pres.pipe(res);
  });
  req.pipe(preq);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (mode === 'flaky') {
    const key = `${req.method} ${url}`;
    const first = !seen.has(key);
    seen.add(key);
    fs.appendFileSync(`${portFile}.log`, `${key}${first ? ' (first)' : ''}\n`);
    if (first && req.method === 'GET' && /\/manifests\//.test(url)) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try again' }] }));
      return;
    }
    if (first && req.method === 'GET' && /\/blobs\/sha256:/.test(url)) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
      return;
    }
    if (first && /\/tags\/list/.test(url)) {
      req.socket.destroy();
      return;
    }
    forward(req, res, url);
    return;
  }
  if (mode === 'cut-blobs') {
    const up = new URL(upstream!);
    const preq = http.request({ host: up.hostname, port: up.port, path: url, method: req.method, headers: { ...req.headers, host: up.host } }, (pres) => {
      const isBlob = /\/blobs\/sha256:/.test(url) && req.method === 'GET' && pres.statusCode === 200;
      res.writeHead(pres.statusCode ?? 502, pres.headers);
      if (!isBlob) {
        pres.pipe(res);
        return;
      }
      const len = Number(pres.headers['content-length'] ?? 0);
      let sent = 0;
      pres.on('data', (c: Buffer) => {
        if (sent >= len / 2) return;
        const part = c.subarray(0, Math.max(0, Math.ceil(len / 2) - sent));
        sent += part.length;
        res.write(part);
        if (sent >= len / 2) setTimeout(() => res.socket?.destroy(), 50);
      });
    });
    req.pipe(preq);
    return;
  }
  if (url === '/v2/' || url === '/v2') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
    return;
  }
  if (/\/manifests\//.test(url)) {
    if (mode === 'nonjson') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end('<html>this is not a manifest</html>');
      return;
    }
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    if (mode === 'huge') res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(big.length) });
    else res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    res.end(big);
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'not found' }] }));
});
// written aside and renamed: the test reads the file as soon as it exists
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(`${portFile}.tmp`, String((server.address() as { port: number }).port));
  fs.renameSync(`${portFile}.tmp`, portFile);
});
