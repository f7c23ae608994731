/**
 * The template engine against Go's own text/template: every case below is
 * rendered by test/go/render-template.go (built here with the installed Go
 * 1.23, standard library only) and by src/util/template, and the outputs, the
 * partial output before an error, and whether each errs must be the same.
 * Without Go this test fails: scripts/setup.sh installs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers/cli.js';
import { GoStruct, method, Template, TemplateError } from '../../src/util/template/index.js';
import { TEMPLATE_CASES, type TemplateCase } from './template-cases.js';
import { tabwrite } from '../../src/util/tabwriter.js';

const GO = '/usr/lib/go-1.23/bin/go';

interface GoResult {
  out: string;
  err: string;
  parse: boolean;
}

function buildReference(dir: string): string {
  assert.ok(fs.existsSync(GO), `Go 1.23 is missing at ${GO}: run scripts/setup.sh (it installs golang-1.23-go from bookworm-backports)`);
  const bin = path.join(dir, 'render-template');
  const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GO111MODULE: 'off', GOFLAGS: '' };
  if (!env.HOME) env.GOCACHE = path.join(dir, 'cache');
  const r = spawnSync(GO, ['build', '-o', bin, path.join(REPO, 'test', 'go', 'render-template.go')], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, `go build failed: ${r.stderr}`);
  return bin;
}

function renderTs(c: TemplateCase): GoResult {
  if (c.tabwrite) return { out: tabwrite(c.tpl, 10, 3), err: '', parse: false };
  let t: Template;
  try {
    t = Template.parse(c.tpl);
  } catch (e) {
    if (e instanceof TemplateError) return { out: '', err: e.message, parse: true };
    throw e;
  }
  try {
    if (c.struct) {
      const d = c.data as { id: string; name: string; labels?: Record<string, string> };
      const labels = d.labels ?? {};
      const s = new GoStruct('*main.ctr', {
        ID: method([], () => d.id),
        Names: method([], () => d.name),
        Label: method(['string'], (n: string) => labels[n] ?? ''),
        Labels: method([], () =>
          Object.entries(labels)
            .map(([k, v]) => `${k}=${v}`)
            .sort()
            .join(','),
        ),
      });
      return { out: t.execute(s), err: '', parse: false };
    }
    if (c.header) return { out: t.executeHeader(c.data as Record<string, string>, true), err: '', parse: false };
    return { out: t.execute(c.data, { missingKey: c.missingkey === 'error' ? 'error' : 'default' }), err: '', parse: false };
  } catch (e) {
    if (e instanceof TemplateError) return { out: e.partial, err: e.message, parse: false };
    throw e;
  }
}

test('templates render as Go text/template renders them', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-gotpl-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = buildReference(dir);
  const r = spawnSync(bin, [], { input: JSON.stringify(TEMPLATE_CASES), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as GoResult[];
  assert.equal(want.length, TEMPLATE_CASES.length);
  const failures: string[] = [];
  let messageDiffs = 0;
  TEMPLATE_CASES.forEach((c, i) => {
    const got = renderTs(c);
    const w = want[i]!;
    const label = `#${i} ${JSON.stringify(c.tpl)}`;
    if (w.err === 'panic') return failures.push(`${label}: the Go reference panicked`);
    if (!!w.err !== !!got.err) failures.push(`${label}: Go ${w.err ? `errs (${w.err})` : 'succeeds'}, tsrun ${got.err ? `errs (${got.err})` : 'succeeds'}`);
    else if (w.out !== got.out) failures.push(`${label}: output ${JSON.stringify(got.out)}, Go ${JSON.stringify(w.out)}`);
    else if (w.parse !== got.parse) failures.push(`${label}: Go's error is ${w.parse ? 'a parse' : 'an execution'} error, tsrun's is not: ${got.err}`);
    else if (w.err !== got.err) {
      messageDiffs++;
      if (process.env.TSRUN_TEMPLATE_MESSAGES) console.log(`# ${label}\n#   tsrun: ${got.err}\n#   go:    ${w.err}`);
      if (c.exactError) failures.push(`${label}: message ${JSON.stringify(got.err)}, Go ${JSON.stringify(w.err)}`);
    }
  });
  assert.deepEqual(failures, [], `${failures.length} of ${TEMPLATE_CASES.length} cases differ from Go`);
  // the wording of the remaining errors may differ; the count keeps it visible
  if (messageDiffs) console.log(`# ${messageDiffs} error messages differ from Go's wording (outputs and error/no-error all match)`);
});
