/** build --progress tty: plain progress lines folded on a (fake) terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTtyProgress } from '../../src/cli/build-progress.js';

function fakeTerminal() {
  let out = '';
  const stream = { columns: 80, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  /** What stays on screen: apply "up N lines + clear to end" to the text written so far. */
  const screen = () => {
    const lines: string[] = [];
    for (const part of out.split(/(\x1b\[\d+A\x1b\[0J)/)) {
      const up = /^\x1b\[(\d+)A\x1b\[0J$/.exec(part);
      if (up) lines.splice(lines.length - Number(up[1]), Number(up[1]));
      else lines.push(...part.split('\n').slice(0, -1));
    }
    return lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
  };
  return { stream, screen, raw: () => out };
}

test('a finished step folds to its header with DONE; a cached one with CACHED; other lines pass through', () => {
  const t = fakeTerminal();
  const p = buildTtyProgress(t.stream);
  p.line('#1 [stage-0 1/3] FROM busybox');
  p.line('#1 DONE 0.0s');
  p.line('#2 [stage-0 2/3] RUN /bin/sh -c make');
  for (let i = 1; i <= 9; i++) p.line(`#2 0.${i} output ${i}`);
  assert.deepEqual(t.screen().slice(-6), ['output 4', 'output 5', 'output 6', 'output 7', 'output 8', 'output 9'], 'the last 6 lines show live');
  p.line('#2 DONE 1.2s');
  p.line('[Warning] something');
  p.line('#3 [stage-0 3/3] COPY a /a');
  p.line('#3 CACHED');
  p.line('#4 exporting to image');
  p.line('#4 writing image sha256:abc done');
  p.end();
  assert.deepEqual(t.screen(), [
    '#1 [stage-0 1/3] FROM busybox DONE 0.0s',
    '#2 [stage-0 2/3] RUN /bin/sh -c make DONE 1.2s',
    '[Warning] something',
    '#3 [stage-0 3/3] COPY a /a CACHED',
    '#4 exporting to image',
    'writing image sha256:abc done',
  ]);
});

test('a step that fails keeps its last lines on screen', () => {
  const t = fakeTerminal();
  const p = buildTtyProgress(t.stream);
  p.line('#2 [stage-0 2/2] RUN /bin/sh -c false');
  p.line('#2 0.1 it went wrong');
  p.end();
  assert.deepEqual(t.screen(), ['#2 [stage-0 2/2] RUN /bin/sh -c false', 'it went wrong']);
});
