/** proxy.ts: which requests use HTTP(S)_PROXY, with the rules of Go's httpproxy package. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noProxyMatches, proxyFor } from '../../src/registry/proxy.js';

test('scheme picks the variable; upper case wins; a bare host:port is http://', () => {
  const env = { HTTP_PROXY: 'http://p1:3128', https_proxy: 'p2:8080', HTTPS_PROXY: 'http://p3:1' };
  assert.equal(proxyFor('http://reg.example:5000/v2/', env), 'http://p1:3128');
  assert.equal(proxyFor('https://reg.example/v2/', env), 'http://p3:1');
  assert.equal(proxyFor('https://reg.example/v2/', { https_proxy: 'p2:8080' }), 'http://p2:8080');
  assert.equal(proxyFor('https://reg.example/v2/', { HTTP_PROXY: 'http://p1:3128' }), undefined);
  assert.equal(proxyFor('http://reg.example/v2/', {}), undefined);
});

test('loopback never uses a proxy', () => {
  const env = { HTTP_PROXY: 'http://p:1', HTTPS_PROXY: 'http://p:1' };
  for (const u of ['http://localhost:5000/v2/', 'http://127.0.0.1:5000/', 'https://127.8.9.1/', 'http://[::1]:5000/']) assert.equal(proxyFor(u, env), undefined, u);
  assert.equal(proxyFor('http://10.1.2.3:5000/', env), 'http://p:1');
});

test('NO_PROXY entries', () => {
  const cases: [string, string, string, boolean][] = [
    ['*', 'a.b', '443', true],
    ['example.com', 'example.com', '443', true],
    ['example.com', 'reg.example.com', '443', true],
    ['example.com', 'badexample.com', '443', false],
    ['.example.com', 'example.com', '443', false],
    ['.example.com', 'reg.example.com', '443', true],
    ['*.example.com', 'reg.example.com', '443', true],
    ['example.com:5000', 'example.com', '5000', true],
    ['example.com:5000', 'example.com', '443', false],
    ['10.0.0.0/8', '10.2.3.4', '443', true],
    ['10.0.0.0/8', '11.2.3.4', '443', false],
    ['10.2.3.4', '10.2.3.4', '5000', true],
    ['fd00::/8', 'fd12::1', '443', true],
    ['[fd12::1]:5000', 'fd12::1', '5000', true],
    [' a.test , EXAMPLE.com ', 'x.example.com', '443', true],
    ['', 'example.com', '443', false],
  ];
  for (const [np, host, port, want] of cases) assert.equal(noProxyMatches(np, host, port), want, `${np} ${host}:${port}`);
});
