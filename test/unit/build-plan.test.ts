/**
 * The pure semantics layer: ARG scoping, the stage graph (--target, parallel waves), the
 * stage plan (expansion, image config) and docker's created_by strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeDockerfile } from '../../src/ops/build/frontend.js';
import { planStage, type StageConfig, type Step } from '../../src/ops/build/stage-plan.js';
import { unusedBuildArgs } from '../../src/ops/build/args.js';
import { formatGoDuration, parseGoDuration } from '../../src/ops/build/go-format.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

function plan(text: string, o: { buildArgs?: Record<string, string>; base?: StageConfig; stage?: number; target?: string } = {}) {
  const buildArgs = new Map(Object.entries(o.buildArgs ?? {}));
  const fe = analyzeDockerfile(text, { buildArgs, targetPlatform: arm64, buildPlatform: amd64, target: o.target });
  const stage = fe.parsed.stages[o.stage ?? fe.graph.target]!;
  const p = planStage(stage, { globalArgs: fe.globalArgs, buildArgs, target: arm64, build: amd64, base: o.base ?? {}, escapeToken: fe.parsed.escapeToken });
  return { fe, ...p, history: p.steps.map((s) => s.createdBy) };
}

const only = <K extends Step['kind']>(steps: Step[], kind: K) => steps.filter((s): s is Extract<Step, { kind: K }> => s.kind === kind);

test('created_by strings are docker/BuildKit-exact', () => {
  const { history } = plan(`FROM busybox
RUN apt-get update
COPY file /dst
WORKDIR /app
ENV A=b C="d e"
LABEL maintainer="x y" version=1
USER nobody
VOLUME ["/data", "/logs"]
EXPOSE 80 443/udp 8000-8001
STOPSIGNAL SIGKILL
SHELL ["/bin/bash", "-c"]
RUN echo "$A"
CMD echo hi
ENTRYPOINT ["/init"]
HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1
MAINTAINER someone <a@b.c>
COPY --chown=1:2 --chmod=644 a b ./sub/
ADD --chmod=755 https://example.com/x.tgz /opt/
COPY <<EOF /etc/greeting
hi
EOF
RUN ["ls", "-l"]
`);
  assert.deepEqual(history, [
    'RUN /bin/sh -c apt-get update # buildkit',
    'COPY file /dst # buildkit',
    'WORKDIR /app',
    'ENV A=b C=d e',
    'LABEL maintainer=x y version=1',
    'USER nobody',
    'VOLUME [/data /logs]',
    'EXPOSE map[443/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]', // Go sorts map keys bytewise
    'STOPSIGNAL SIGKILL',
    'SHELL [/bin/bash -c]',
    'RUN /bin/bash -c echo "$A" # buildkit',
    'CMD ["/bin/bash" "-c" "echo hi"]',
    'ENTRYPOINT ["/init"]',
    'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "5m0s" "3s" "0s" "0s" \'\\x03\'}',
    'MAINTAINER someone <a@b.c>',
    'COPY --chown=1:2 --chmod=644 a b ./sub/ # buildkit',
    'ADD --chmod=755 https://example.com/x.tgz /opt/ # buildkit',
    'COPY <<EOF /etc/greeting # buildkit',
    'RUN ls -l # buildkit',
  ]);
});

test('the image config a stage leaves', () => {
  const { config, steps } = plan(
    `FROM base
ENV PATH=/usr/bin:$PATH
WORKDIR app
WORKDIR ../srv/./x
USER 1000
ENTRYPOINT ["/run"]
EXPOSE 80
LABEL a=1
STOPSIGNAL 9
ONBUILD RUN echo child
`,
    { base: { Env: ['PATH=/bin', 'HOME=/root'], Cmd: ['sh'], WorkingDir: '/home', Labels: { base: 'yes' } } },
  );
  assert.deepEqual(config.Env, ['PATH=/usr/bin:/bin', 'HOME=/root']);
  assert.equal(config.WorkingDir, '/home/srv/x');
  assert.equal(config.User, '1000');
  assert.deepEqual(config.Entrypoint, ['/run']);
  assert.equal(config.Cmd, null, 'ENTRYPOINT drops the base image CMD');
  assert.deepEqual(config.ExposedPorts, { '80/tcp': {} });
  assert.deepEqual(config.Labels, { base: 'yes', a: '1' });
  assert.equal(config.StopSignal, '9');
  assert.deepEqual(config.OnBuild, ['RUN echo child']);
  const wd = only(steps, 'workdir');
  assert.deepEqual(
    wd.map((s) => [s.path, s.user, s.createdBy]),
    [
      ['/home/app', undefined, 'WORKDIR /home/app'],
      ['/home/srv/x', undefined, 'WORKDIR /home/srv/x'],
    ],
  );
});

test('ARG scoping: global ARGs only in FROM until re-declared; ENV wins; build args override', () => {
  const text = `ARG BASE=busybox
ARG V=1
FROM $BASE:\${V} AS a
ENV BEFORE=[$V]
ARG V
ENV AFTER=[$V]
ARG W=2
ENV W=env
ARG LOCAL=x$V
RUN echo $V $W
`;
  const p = plan(text);
  assert.deepEqual('image' in p.fe.graph.nodes[0]!.base && p.fe.graph.nodes[0]!.base.image, 'busybox:1');
  assert.deepEqual(p.config.Env, ['BEFORE=[]', 'AFTER=[1]', 'W=env']);
  const run = only(p.steps, 'run')[0]!;
  assert.equal(run.createdBy, 'RUN |3 V=1 W=env LOCAL=x1 /bin/sh -c echo $V $W # buildkit');
  assert.deepEqual(run.env, ['BEFORE=[]', 'AFTER=[1]', 'W=env', 'V=1', 'LOCAL=x1']);
  assert.deepEqual([...p.declaredArgs].sort(), ['LOCAL', 'V', 'W']);

  const q = plan(text, { buildArgs: { V: '9', W: '7', https_proxy: 'http://proxy:3128', NOBODY: 'x' } });
  assert.equal('image' in q.fe.graph.nodes[0]!.base && q.fe.graph.nodes[0]!.base.image, 'busybox:9');
  assert.deepEqual(q.config.Env, ['BEFORE=[]', 'AFTER=[9]', 'W=env'], 'ENV W still wins over --build-arg W');
  const qrun = only(q.steps, 'run')[0]!;
  assert.ok(qrun.env.includes('https_proxy=http://proxy:3128'), 'proxy build args reach RUN undeclared');
  assert.ok(!qrun.createdBy.includes('proxy'), 'proxies never appear in history');
  const declared = new Set([...q.declaredArgs, 'BASE', 'V']);
  assert.deepEqual(unusedBuildArgs(new Map(Object.entries({ V: '9', https_proxy: 'p', NOBODY: 'x' })), declared), ['NOBODY']);
});

test('predefined platform ARGs: global in FROM, in a stage once declared', () => {
  const p = plan(`FROM --platform=$BUILDPLATFORM busybox AS build
ENV SEEN=[$TARGETARCH]
ARG TARGETARCH
ARG TARGETPLATFORM
ARG BUILDOS
ENV ARCH=$TARGETARCH PLAT=$TARGETPLATFORM OS=$BUILDOS
`);
  assert.equal(p.fe.graph.nodes[0]!.platform, 'linux/amd64');
  assert.deepEqual(p.config.Env, ['SEEN=[]', 'ARCH=arm64', 'PLAT=linux/arm64/v8', 'OS=linux']);
});

test('stage graph: only what the target needs, independent stages in one wave', () => {
  const text = `FROM busybox AS base
FROM base AS build
RUN make
FROM busybox AS unused
RUN exit 1
FROM alpine AS assets
RUN gen
FROM scratch
COPY --from=build /out /out
COPY --from=assets /a /a
COPY --from=0 /etc/passwd /etc/passwd
COPY --from=nginx:latest /etc/nginx /etc/nginx
RUN --mount=type=bind,from=base,target=/b ls /b
`;
  const { fe } = plan(text);
  assert.equal(fe.graph.target, 4);
  assert.deepEqual(fe.graph.waves, [[0, 3], [1], [4]]);
  assert.deepEqual(fe.graph.nodes[4]!.deps, [0, 1, 3]);
  assert.deepEqual(fe.graph.nodes[4]!.images, ['nginx:latest']);
  assert.deepEqual(fe.graph.nodes[4]!.base, { scratch: true });
  assert.deepEqual(fe.graph.nodes[1]!.base, { stage: 0 });
  const t = plan(text, { target: 'build' });
  assert.deepEqual(t.fe.graph.waves, [[0], [1]]);
  // a stage name used before it is defined in FROM is an image, not the stage
  const fwd = plan('FROM later\nFROM busybox AS later\n', { stage: 0 });
  assert.deepEqual(fwd.fe.graph.nodes[0]!.base, { image: 'later' });
});

test('RUN: shell, heredocs, mounts expanded', () => {
  const { steps } = plan(`FROM busybox
ARG CACHE=/root/.cache
RUN --mount=type=cache,target=$CACHE,id=pip --network=none <<EOF
echo one
EOF
RUN <<EOF
#!/usr/bin/env python3
print("hi")
EOF
RUN cat <<A <<B
a
A
b
B
RUN --mount=type=secret,id=tok,env=TOKEN --mount=type=tmpfs,target=/tmp,size=64m true
`);
  const runs = only(steps, 'run');
  assert.deepEqual(runs[0]!.argv, ['/bin/sh', '-c', 'echo one\n']);
  assert.deepEqual(runs[0]!.mounts, [{ type: 'cache', target: '/root/.cache', id: 'pip', readOnly: false, required: false }]);
  assert.equal(runs[0]!.network, 'none');
  assert.deepEqual(runs[1]!.argv, ['/bin/sh', '-c', '/dev/pipes/EOF']);
  assert.deepEqual(runs[1]!.scripts, [{ path: '/dev/pipes/EOF', data: '#!/usr/bin/env python3\nprint("hi")\n' }]);
  assert.deepEqual(runs[2]!.argv, ['/bin/sh', '-c', 'cat <<A <<B\na\nA\nb\nB']);
  assert.equal(runs[2]!.createdBy, 'RUN |1 CACHE=/root/.cache /bin/sh -c cat <<A <<B\na\nA\nb\nB # buildkit');
  assert.deepEqual(runs[3]!.mounts, [
    { type: 'secret', id: 'tok', env: 'TOKEN', readOnly: true, required: false },
    { type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024, readOnly: false, required: false },
  ]);
});

test('COPY: destinations against WORKDIR, heredoc bodies expanded unless quoted', () => {
  const { steps } = plan(`FROM busybox
WORKDIR /app
ENV NAME=world
COPY a .
COPY a b sub/
COPY --parents --exclude=*.md --link src/./x /abs
COPY <<EOF greeting
hello $NAME "quoted"
EOF
COPY <<'EOF' raw
hello $NAME
EOF
`);
  const copies = only(steps, 'copy');
  assert.deepEqual(
    copies.map((c) => c.dest),
    ['/app/', '/app/sub/', '/abs', '/app/greeting', '/app/raw'],
  );
  assert.deepEqual(copies[2]!.exclude, ['*.md']);
  assert.equal(copies[2]!.parents, true);
  assert.equal(copies[2]!.link, true);
  assert.equal(copies[2]!.createdBy, 'COPY --parents src/./x /abs # buildkit');
  assert.deepEqual(copies[3]!.contents, [{ name: 'EOF', data: 'hello world "quoted"\n' }]);
  assert.deepEqual(copies[4]!.contents, [{ name: 'EOF', data: 'hello $NAME\n' }]);
});

test('ONBUILD triggers of the base image run first and are not inherited', () => {
  const { steps, config } = plan('FROM base\nRUN two\n', { base: { OnBuild: ['RUN one', 'ENV X=1'] } });
  assert.deepEqual(
    steps.map((s) => s.createdBy),
    ['RUN /bin/sh -c one # buildkit', 'ENV X=1', 'RUN /bin/sh -c two # buildkit'],
  );
  assert.equal(config.OnBuild, null);
});

test('escape directive: backtick continues lines and escapes', () => {
  const { history } = plan('# escape=`\nFROM busybox\nRUN echo a `\n  b\nENV P=C:\\dir\n');
  assert.deepEqual(history, ['RUN /bin/sh -c echo a   b # buildkit', 'ENV P=C:\\dir']);
});

test('Go durations: parse and print as docker does', () => {
  const table: [string, string][] = [
    ['30s', '30s'],
    ['5m', '5m0s'],
    ['1h', '1h0m0s'],
    ['1.5s', '1.5s'],
    ['500ms', '500ms'],
    ['90s', '1m30s'],
    ['2h45m', '2h45m0s'],
    ['10us', '10µs'],
    ['0', '0s'],
  ];
  for (const [input, want] of table) assert.equal(formatGoDuration(parseGoDuration(input)), want, input);
  assert.throws(() => parseGoDuration('5'));
  assert.throws(() => parseGoDuration('1x'));
});

test('WORKDIR is created as the current USER; WORKDIR / makes no layer', () => {
  const { steps } = plan('FROM busybox\nUSER app:app\nWORKDIR /home/app\nWORKDIR /\n');
  const wd = only(steps, 'workdir');
  assert.deepEqual(
    wd.map((s) => [s.path, s.user, s.emptyLayer]),
    [
      ['/home/app', 'app:app', false],
      ['/', 'app:app', true],
    ],
  );
});

test('directives: syntax recorded (never fetched), check accepted, MAINTAINER sets the author', () => {
  const p = plan('# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended;error=true\nFROM busybox\nMAINTAINER me\n');
  assert.equal(p.fe.syntax, 'docker/dockerfile:1.7');
  assert.equal(p.author, 'me');
});
