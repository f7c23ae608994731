/**
 * docker's flags that tsrun does not have, by command: such a flag is refused
 * with "--gpus is not supported by tsrun" (exit 125) instead of commander's
 * "unknown option", so a docker user knows the flag is right and the feature
 * is missing. A flag tsrun gains is found by commander first and never looked
 * up here.
 */

const RUN_CREATE = [
  '--annotation', '-a', '--attach', '--blkio-weight-device', '--cgroup-parent', '--cgroupns', '--cidfile', '--cpu-count',
  '--cpu-percent', '--cpu-rt-period', '--cpu-rt-runtime', '--detach-keys', '--disable-content-trust', '--domainname',
  '--expose', '--gpus', '--group-add', '--io-maxbandwidth', '--io-maxiops', '--ip6', '--ipc', '--isolation',
  '--label-file', '--link', '--link-local-ip', '--log-driver', '--log-opt', '--mac-address', '--memory-swappiness',
  '--pid', '-q', '--quiet', '--runtime', '--sig-proxy', '--stop-signal', '--stop-timeout', '--storage-opt',
  '--use-api-socket', '--uts', '--volume-driver',
];

const UNSUPPORTED: Record<string, string[]> = {
  run: RUN_CREATE.filter((f) => f !== '--detach-keys'),
  create: RUN_CREATE,
  ps: ['-s', '--size'],
  images: ['--digests', '-f', '--filter', '--tree'],
  ls: ['--digests', '-f', '--filter', '--tree'],
  exec: ['--privileged'],
  logs: ['--details'],
  rm: ['-l', '--link'],
  start: ['--checkpoint', '--checkpoint-dir'],
  history: ['--platform'],
  inspect: ['-s', '--size'],
  rmi: ['--no-prune', '--platform'],
  pull: ['--disable-content-trust'],
  push: ['-a', '--all-tags', '--disable-content-trust', '--platform'],
  save: ['--platform'],
  load: ['--platform'],
  import: [],
  kill: [],
  stop: [],
  restart: [],
  commit: [],
  top: [],
  update: ['--cpu-rt-period', '--cpu-rt-runtime', '--kernel-memory', '--memory-swappiness'],
  wait: [],
};

/** "--gpus is not supported by tsrun" for a docker flag tsrun lacks, else undefined. */
export function unsupportedDockerFlag(command: string, flag: string): string | undefined {
  const name = flag.split('=')[0]!;
  return UNSUPPORTED[command]?.includes(name) ? `${name} is not supported by tsrun` : undefined;
}
