/**
 * A small HTTP proxy for tests, run as its own process (tests block in spawnSync):
 *   node dist/test/helpers/connect-proxy.js PORTFILE
 * It speaks CONNECT (tunnels, as for https and undici's ProxyAgent) and absolute-form forwarding
 * (`GET http://host/…`), and sends every target to 127.0.0.1 at the target's port: a name such as
 * `reg.proxied.test:5000` resolves nowhere but through this proxy, which proves that traffic went
 * through it. Each request is logged to PORTFILE.log as `CONNECT host:port` or `GET http://…`.
 */
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';

const [portFile] = process.argv.slice(2) as [string];
const log = (line: string) => fs.appendFileSync(`${portFile}.log`, line + '\n');

const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  log(`${req.method} ${url}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    res.writeHead(400).end('absolute URL expected');
    return;
  }
  const headers = { ...req.headers };
  delete headers['proxy-authorization'];
  delete headers['proxy-connection'];
  const up = http.request({ host: '127.0.0.1', port: Number(u.port || 80), path: u.pathname + u.search, method: req.method, headers }, (ures) => {
    res.writeHead(ures.statusCode ?? 502, ures.headers);
    ures.pipe(res);
  });
  up.on('error', () => res.writeHead(502).end());
  req.pipe(up);
});

server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
  const target = req.url ?? '';
  log(`CONNECT ${target}`);
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const up = net.connect(port, '127.0.0.1', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) up.write(head);
    up.pipe(client);
    client.pipe(up);
  });
  const close = () => {
    up.destroy();
    client.destroy();
  };
  up.on('error', () => {
    if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  client.on('error', close);
});

// written aside and renamed: the test reads the file as soon as it exists
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(`${portFile}.tmp`, String((server.address() as net.AddressInfo).port));
  fs.renameSync(`${portFile}.tmp`, portFile);
});
