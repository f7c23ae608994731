/**
 * Docker scripts, unchanged, against tsrun: each snippet below is run by bash
 * with `alias docker=tsrun --root ROOT` and must print what docker prints
 * (exit-code checks, `grep "No such container"`, `--format` one-liners from
 * docker's documentation). The containers are real (run -d).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TSRUN, importBusybox, tempRoot, tsrun, tsrunOk, type TempRoot } from '../helpers/cli.js';

let t: TempRoot;

before(() => {
  t = tempRoot('tsrun-script-');
  importBusybox(t.root, 'busybox:latest');
  // running through every snippet, however long a slow machine takes over them all (rm -f in after)
  tsrunOk(t.root, ['run', '-d', '--name', 'web', '-l', 'com.example.tier=front', '-e', 'FOO=bar', 'busybox', 'sleep', '100000']);
  tsrunOk(t.root, ['create', '--name', 'stopped', 'busybox', 'true']);
});

after(() => {
  tsrun(t.root, ['rm', '-f', 'web', 'stopped']);
  t.cleanup();
});

/** Run a bash script with docker aliased to this tsrun; stdout, stderr and status. */
function bash(script: string): { out: string; err: string; code: number } {
  const file = path.join(t.scratch, 'snippet.sh');
  fs.writeFileSync(file, `shopt -s expand_aliases\nalias docker='${process.execPath} -- ${TSRUN} --root ${t.root}'\n${script}\n`);
  const r = spawnSync('bash', [file], { encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { out: r.stdout, err: r.stderr, code: r.status ?? -1 };
}

const SNIPPETS: [string, string, string | RegExp][] = [
  // exit codes scripts test
  ['a missing container exits 1', `docker stop nosuch 2>/dev/null; echo $?`, '1\n'],
  ['grep "No such container"', `docker rm nosuch 2>&1 | grep -q "No such container" && echo found`, 'found\n'],
  ['inspect of a missing object fails', `if ! docker inspect nosuch >/dev/null 2>&1; then echo missing; fi`, 'missing\n'],
  ['grep "No such image"', `docker rmi nosuch:1 2>&1 | grep -c "No such image"`, '1\n'],
  ['rm -f of a missing container is fine', `docker rm -f nosuch; echo $?`, '0\n'],
  ['the container status is the exit status', `docker run --rm busybox sh -c 'exit 3'; echo $?`, '3\n'],
  ['command not found is 127', `docker run --rm busybox nosuchcmd 2>/dev/null; echo $?`, '127\n'],
  ['command not executable is 126', `docker run --rm busybox /etc 2>/dev/null; echo $?`, '126\n'],
  ['a bad flag is 125', `docker run --nosuchflag busybox true 2>/dev/null; echo $?`, '125\n'],
  ['a missing image on run is 125', `docker run --rm --pull never nosuch/image:1 2>/dev/null; echo $?`, '125\n'],
  ['start of a running container is 0', `docker start web; echo $?`, 'web\n0\n'],
  ['stop of a stopped container is 0', `docker stop -t 1 stopped; echo $?`, 'stopped\n0\n'],
  ['stop --timeout', `docker stop --timeout 1 stopped >/dev/null; echo $?`, '0\n'],
  ['rm of a running container is 1', `docker rm web 2>/dev/null; echo $?`, '1\n'],
  ['rm of a running container says so as docker', `docker rm web 2>&1 | grep -c "You cannot remove a running container [0-9a-f]\\{64\\}. Stop the container before attempting removal or force remove"`, '1\n'],
  ['--flag=false', `docker run --rm --read-only=false busybox touch /x; echo $?`, '0\n'],
  ['--flag=true', `docker run --rm --read-only=true busybox touch /x 2>/dev/null; echo $?`, '1\n'],
  ['-it without a terminal', `docker run -it --rm busybox true </dev/null; echo $?`, /^1\n$/],
  ['-it without a terminal says so', `docker run -it --rm busybox true 2>&1 </dev/null | grep -c "the input device is not a TTY"`, '1\n'],
  ['a docker flag tsrun lacks', `docker run --gpus all busybox true 2>&1 | grep -c "not supported by tsrun"`, '1\n'],
  ['a missing --env-file is tsrun\'s error, not node\'s', `docker run --rm --env-file /nonexistent busybox true 2>/dev/null; echo $?`, '125\n'],
  ['a missing argument is 1, not a flag error', `docker rm 2>/dev/null; echo $?; docker tag onlyone 2>/dev/null; echo $?; docker ps extra 2>/dev/null; echo $?`, '1\n1\n1\n'],
  ['grep "requires at least 1 argument"', `docker run 2>&1 | grep -c "'tsrun run' requires at least 1 argument"`, '1\n'],
  ['a command that cannot start stays Created, exit 127', `docker run --name nocmd busybox nosuchcmd 2>/dev/null; echo $?; docker ps -a --filter name=nocmd --format '{{.Status}}'; docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' nocmd; docker inspect -f '{{.State.Error}}' nocmd | grep -c 'executable file not found'; docker start nocmd 2>/dev/null; echo $?; docker ps -a --filter name=nocmd --format '{{.State}}'; docker rm nocmd`, '127\nCreated\ncreated 127\n1\n1\ncreated\nnocmd\n'],
  ['start of several goes on past a failure, then exit 1', `docker start stopped nosuch 2>&1 >/dev/null | tail -1; docker start stopped nosuch >/dev/null 2>&1; echo $?`, 'tsrun: failed to start containers: nosuch\n1\n'],
  ['rm goes on past a missing container, then exit 1', `docker create --name gone1 busybox true >/dev/null; docker rm nosuch gone1 2>/dev/null; echo $?; docker ps -a --filter name=gone1 -q | wc -l`, 'gone1\n1\n0\n'],
  ['kill goes on past a missing container, then exit 1', `docker run -d --name k1 busybox sleep 60 >/dev/null; docker kill nosuch k1 2>/dev/null; echo $?; docker inspect -f '{{.State.Running}}' k1; docker rm k1`, 'k1\n1\nfalse\nk1\n'],
  ['stop goes on past a missing container, then exit 1', `docker stop -t 0 nosuch stopped 2>&1 >/dev/null | grep -c "No such container: nosuch"; docker stop -t 0 nosuch stopped 2>/dev/null; echo $?`, '1\nstopped\n1\n'],
  ['HOSTNAME is the container\'s', `[ "$(docker run --rm -h box busybox sh -c 'echo $HOSTNAME')" = box ] && echo ok`, 'ok\n'],
  // --format one-liners from docker's documentation
  ['inspect .State.Running', `docker inspect --format '{{.State.Running}}' web`, 'true\n'],
  ['inspect .Name', `docker inspect -f '{{.Name}}' web`, '/web\n'],
  ['inspect a label with index', `docker inspect --format '{{index .Config.Labels "com.example.tier"}}' web`, 'front\n'],
  ['inspect a missing label', `docker inspect --format '{{.Config.Labels.nope}}' web`, '<no value>\n'],
  ['inspect range .Config.Env', `docker inspect --format='{{range .Config.Env}}{{println .}}{{end}}' web | grep -c '^FOO=bar$'`, '1\n'],
  ['inspect json .Config', `docker inspect --format='{{json .Config}}' web | grep -c '"Image":"busybox"'`, '1\n'],
  ['inspect .State.Pid is a number', `docker inspect --format '{{.State.Pid}}' web`, /^[1-9]\d*\n$/],
  ['inspect if/else', `docker inspect -f '{{if .State.Running}}up{{else}}down{{end}}' web stopped`, 'up\ndown\n'],
  ['inspect join', `docker inspect -f '{{join .Args " "}}' web`, '100000\n'],
  ['image inspect', `docker image inspect --format '{{.Os}}' busybox`, 'linux\n'],
  ['ps --format names', `docker ps --format '{{.Names}}'`, 'web\n'],
  ['ps .ID and .Command', `docker ps -a --filter name=web --format '{{.ID}}: {{.Command}}'`, /^[0-9a-f]{12}: "sleep 100000"\n$/],
  ['ps .Label', `docker ps --format '{{.Label "com.example.tier"}}'`, 'front\n'],
  ['ps table', `docker ps -a --format 'table {{.Names}}\\t{{.Status}}' | head -1`, 'NAMES     STATUS\n'],
  ['ps json', `docker ps --format '{{json .}}' | grep -c '"Names":"web"'`, '1\n'],
  ['ps -q in a loop', `for c in $(docker ps -q); do docker inspect -f '{{.Name}}' "$c"; done`, '/web\n'],
  ['images repository:tag', `docker images --format "{{.Repository}}:{{.Tag}}"`, 'busybox:latest\n'],
  ['images table', `docker images --format "table {{.Repository}}\\t{{.Tag}}"`, 'REPOSITORY   TAG\nbusybox      latest\n'],
  ['history', `docker history --format "{{.ID}}: {{.CreatedBy}}" busybox | wc -l`, '1\n'],
  ['info .Containers', `docker info --format '{{.Containers}} {{.ContainersRunning}}'`, '2 1\n'],
  ['info json', `docker info --format '{{json .}}' | grep -c '"Driver":"overlay2"'`, '1\n'],
  ['info .ServerVersion is set', `[ -n "$(docker info --format '{{.ServerVersion}}')" ] && echo ok`, 'ok\n'],
  ['version .Server.Version', `docker version --format '{{.Server.Version}}'`, /^\d+\.\d+\.\d+\n$/],
  ['version .Client.Version', `docker version -f '{{.Client.Version}}'`, /^\d+\.\d+\.\d+\n$/],
  ['stats --no-stream one-liner', `docker stats --no-stream --format '{{.Name}}: {{.PIDs}}' web`, 'web: 1\n'],
  ['stats table', `docker stats --no-stream --format 'table {{.Name}}\\t{{.CPUPerc}}' | head -1`, 'NAME      CPU %\n'],
  ['stats of a missing container is 1', `docker stats --no-stream nosuch 2>&1 | grep -c "No such container"; docker stats --no-stream nosuch 2>/dev/null; echo $?`, '1\n1\n'],
  ['system df types', `docker system df --format '{{.Type}}'`, 'Images\nContainers\nLocal Volumes\nBuild Cache\n'],
  ['network ls names', `docker network ls --format '{{.Name}}'`, 'bridge\n'],
  ['network inspect -f', `docker network inspect -f '{{.Name}} {{.Driver}}' bridge`, 'bridge bridge\n'],
  ['network inspect of a missing one prints the others, exit 1', `docker network inspect -f '{{.Name}}' bridge nosuch 2>/dev/null; echo $?; docker network inspect nosuch 2>/dev/null`, 'bridge\n1\n[]\n'],
  ['container prune with a bad filter is 1', `docker container prune -f --filter nope=1 2>/dev/null; echo $?`, '1\n'],
  ['a missing field is an error, exit 1', `docker ps --format '{{.Nope}}' 2>&1; echo $?`, /can't evaluate field Nope in type \*formatter\.ContainerContext\n1\n$/],
  ['an unknown function is an error, exit 1', `docker inspect -f '{{nope}}' web 2>&1; echo $?`, /function "nope" not defined\n1\n$/],
  ['a malformed template is an error, exit 1', `docker images --format '{{.Repository' 2>&1; echo $?`, /template parsing error: .*unclosed action\n1\n$/],
];

for (const [name, script, want] of SNIPPETS) {
  test(`script: ${name}`, () => {
    const r = bash(script);
    if (typeof want === 'string') assert.equal(r.out, want, `${script}\nstderr: ${r.err}`);
    else assert.match(r.out, want, `${script}\nstderr: ${r.err}`);
  });
}
