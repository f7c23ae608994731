/**
 * A loopback HTTP file server for tests of `ADD URL`, in a child process (the CLI runs
 * under spawnSync, which blocks this process's event loop). Routes map a path to a body
 * and optional Last-Modified; anything else is 404; `/redirect/X` answers 302 to `/X`.
 * Every request path is appended to a log the test reads (`requests()`). `stop()` kills
 * the child by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Route {
  body: Buffer | string;
  lastModified?: string;
}

export interface FileServer {
  base: string;
  requests(): string[];
  stop(): void;
}

const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const [routesFile, logFile] = process.argv.slice(1);
const routes = JSON.parse(fs.readFileSync(routesFile, 'utf8'));
const srv = http.createServer((req, res) => {
  fs.appendFileSync(logFile, req.url + '\\n');
  if (req.url.startsWith('/redirect/')) { res.writeHead(302, { location: req.url.slice(9) }); return res.end(); }
  const r = routes[req.url];
  if (!r) { res.writeHead(404); return res.end('not found'); }
  const body = Buffer.from(r.body, 'base64');
  res.writeHead(200, { 'content-length': body.length, ...(r.lastModified ? { 'last-modified': r.lastModified } : {}) });
  res.end(body);
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(String(srv.address().port) + '\\n'));
`;

export async function startFileServer(dir: string, routes: Record<string, Route>): Promise<FileServer> {
  fs.mkdirSync(dir, { recursive: true });
  const routesFile = path.join(dir, 'routes.json');
  const logFile = path.join(dir, 'requests.log');
  fs.writeFileSync(logFile, '');
  fs.writeFileSync(routesFile, JSON.stringify(Object.fromEntries(Object.entries(routes).map(([p, r]) => [p, { body: Buffer.from(r.body).toString('base64'), lastModified: r.lastModified }]))));
  const child: ChildProcess = spawn(process.execPath, ['-e', SERVER, routesFile, logFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the file server did not start')), 60_000);
    child.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
    child.once('exit', (c) => reject(new Error(`the file server exited ${c}`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    requests: () => fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean),
    stop: () => {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    },
  };
}
