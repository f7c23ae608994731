/** The flags run and create share (docker's names). */
import type { Command } from 'commander';
import { collect } from '../common.js';
import type { RunFlags } from '../../containers/options.js';
import type { HealthFlags } from '../../containers/health.js';
import { parseGoDuration } from '../../ops/build/go-format.js';
import { usageError } from '../../util/errors.js';
import type { ResourceFlags } from '../../runtime/resources.js';

export function addRunFlags(cmd: Command): Command {
  cmd
    .option('-i, --interactive', 'keep STDIN open', false)
    .option('-t, --tty', 'allocate a pseudo-TTY', false)
    .option('--rm', 'remove the container when it exits', false)
    .option('--name <name>', 'assign a name to the container')
    .option('-e, --env <KEY=VALUE>', 'set environment variables', collect, [])
    .option('--env-file <file>', 'read environment variables from a file', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('-h, --hostname <name>', 'container host name')
    .option('-v, --volume <[src:]ctr[:opts]>', 'bind mount a host path (absolute or ./relative) or a named volume; CTR alone: an anonymous volume', collect, [])
    .option('--mount <type=…,source=…,target=…>', 'attach a filesystem mount: type=bind|volume|tmpfs, source, target, readonly, volume-opt, tmpfs-size …', collect, [])
    .option('--volumes-from <container[:ro|rw]>', "mount the volumes of the container", collect, [])
    .option('--tmpfs <path[:opts]>', 'mount a tmpfs directory', collect, [])
    .option('--read-only', "mount the container's root filesystem as read only", false)
    .option('--network <mode>', 'connect to a network: bridge (default), none, host, container:NAME or a network name', 'bridge')
    .option('--net <mode>', 'alias of --network')
    .option('-p, --publish <[ip:][hostPort:]port[/proto]>', "publish a container's port to the host", collect, [])
    .option('-P, --publish-all', 'publish all exposed ports to random host ports', false)
    .option('--ip <address>', 'IPv4 address on the network')
    .option('--network-alias <alias>', 'add a network-scoped alias for the container (user networks)', collect, [])
    .option('--net-alias <alias>', 'alias of --network-alias', collect, [])
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping', collect, [])
    .option('--dns <ip>', 'set custom DNS servers', collect, [])
    .option('--dns-search <domain>', 'set custom DNS search domains', collect, [])
    .option('--dns-option <opt>', 'set DNS options', collect, [])
    .option('--entrypoint <cmd>', 'overwrite the default ENTRYPOINT of the image')
    .option('--init', 'run an init inside the container that forwards signals and reaps processes', false)
    .option('--ulimit <name=soft[:hard]>', 'ulimit options', collect, [])
    .option('--privileged', 'give extended privileges to this container', false)
    .option('--cap-add <cap>', 'add Linux capabilities', collect, [])
    .option('--cap-drop <cap>', 'drop Linux capabilities', collect, [])
    .option('--security-opt <opt>', 'security options', collect, [])
    .option('--device <host[:ctr][:rwm]>', 'add a host device to the container', collect, [])
    .option('--device-cgroup-rule <rule>', "allow a device, e.g. 'c 1:3 rwm'", collect, [])
    .option('--pull <policy>', 'pull image before running: missing, always, never', 'missing')
    .option('--platform <os/arch[/variant]>', "the image's platform: pulled for it when the local one differs; another architecture runs emulated (binfmt_misc)")
    .option('-l, --label <k=v>', 'set metadata on a container', collect, [])
    .option('--restart <policy>', 'restart policy when the container exits: no, on-failure[:max-retries], always, unless-stopped')
    .option('--health-cmd <command>', 'command to run to check health')
    .option('--health-interval <duration>', 'time between running the check (ms|s|m|h) (default 0s)')
    .option('--health-timeout <duration>', 'maximum time to allow one check to run (ms|s|m|h) (default 0s)')
    .option('--health-retries <n>', 'consecutive failures needed to report unhealthy')
    .option('--health-start-period <duration>', 'start period for the container to initialize before counting retries towards unstable (ms|s|m|h) (default 0s)')
    .option('--health-start-interval <duration>', 'time between running the check during the start period (ms|s|m|h) (default 0s)')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('--oom-score-adj <n>', "tune the host's OOM preferences (-1000 to 1000)")
    .option('--shm-size <bytes>', 'size of /dev/shm (default 64m)')
    .option('--oom-kill-disable', 'disable the OOM killer (cgroup v1)')
    .option('--kernel-memory <bytes>', 'kernel memory limit (deprecated by docker; refused)')
    .option('--sysctl <name=value>', 'namespaced kernel parameter (net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)', collect, [])
    .option('--userns <mode>', 'user namespace: host (the default), or ns:PATH to join one (podman)')
    .option('--uidmap <container:host:size>', 'a new user namespace with this UID mapping (podman; repeatable)', collect, [])
    .option('--gidmap <container:host:size>', "its GID mapping (podman; repeatable; default: --uidmap's)", collect, []);
  return addResourceFlags(cmd).helpOption('--help', 'display help for command');
}

/** The resource flags run, create and update share (docker's names and units). */
export function addResourceFlags(cmd: Command): Command {
  return cmd
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <decimal>', 'number of CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpu-period <us>', 'limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <us>', 'limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <n>', 'tune container pids limit (set -1 for unlimited)')
    .option('--blkio-weight <n>', 'block IO (relative weight), between 10 and 1000, or 0 to disable')
    .option('--device-read-bps <path:rate>', 'limit read rate (bytes per second) from a device', collect, [])
    .option('--device-write-bps <path:rate>', 'limit write rate (bytes per second) to a device', collect, [])
    .option('--device-read-iops <path:n>', 'limit read rate (IO per second) from a device', collect, [])
    .option('--device-write-iops <path:n>', 'limit write rate (IO per second) to a device', collect, []);
}

/** commander's options → the resource flags (resources.ts checks them). */
export function resourceFlags(o: Record<string, unknown>): ResourceFlags {
  const s = (k: string) => o[k] as string | undefined;
  return {
    memory: s('memory'),
    memorySwap: s('memorySwap'),
    memoryReservation: s('memoryReservation'),
    kernelMemory: s('kernelMemory'),
    oomKillDisable: !!o.oomKillDisable,
    cpus: s('cpus'),
    cpuShares: s('cpuShares'),
    cpuPeriod: s('cpuPeriod'),
    cpuQuota: s('cpuQuota'),
    cpusetCpus: s('cpusetCpus'),
    cpusetMems: s('cpusetMems'),
    pidsLimit: s('pidsLimit'),
    blkioWeight: s('blkioWeight'),
    deviceReadBps: o.deviceReadBps as string[] | undefined,
    deviceWriteBps: o.deviceWriteBps as string[] | undefined,
    deviceReadIops: o.deviceReadIops as string[] | undefined,
    deviceWriteIops: o.deviceWriteIops as string[] | undefined,
  };
}

export function runFlags(o: Record<string, unknown>, detach: boolean): RunFlags {
  return {
    name: o.name as string | undefined,
    env: o.env as string[],
    envFile: o.envFile as string[],
    workdir: o.workdir as string | undefined,
    user: o.user as string | undefined,
    hostname: o.hostname as string | undefined,
    volume: o.volume as string[],
    mount: o.mount as string[],
    volumesFrom: o.volumesFrom as string[],
    tmpfs: o.tmpfs as string[],
    readOnly: !!o.readOnly,
    network: (o.net as string | undefined) ?? (o.network as string),
    publish: o.publish as string[],
    publishAll: !!o.publishAll,
    ip: o.ip as string | undefined,
    networkAlias: [...(o.networkAlias as string[]), ...(o.netAlias as string[])],
    addHost: o.addHost as string[],
    dns: o.dns as string[],
    dnsSearch: o.dnsSearch as string[],
    dnsOption: o.dnsOption as string[],
    entrypoint: o.entrypoint as string | undefined,
    init: !!o.init,
    ulimit: o.ulimit as string[],
    privileged: !!o.privileged,
    capAdd: o.capAdd as string[],
    capDrop: o.capDrop as string[],
    securityOpt: o.securityOpt as string[],
    tty: !!o.tty,
    interactive: !!o.interactive,
    rm: !!o.rm,
    detach,
    pull: o.pull as string | undefined,
    platform: o.platform as string | undefined,
    label: o.label as string[],
    device: o.device as string[],
    deviceCgroupRule: o.deviceCgroupRule as string[],
    restart: o.restart as string | undefined,
    health: healthFlags(o),
    resources: resourceFlags(o),
    oomScoreAdj: o.oomScoreAdj as string | undefined,
    shmSize: o.shmSize as string | undefined,
    sysctl: o.sysctl as string[] | undefined,
    userns: o.userns as string | undefined,
    uidmap: o.uidmap as string[] | undefined,
    gidmap: o.gidmap as string[] | undefined,
  };
}

/** docker's duration flags: Go's time.ParseDuration, its error in docker's words. */
function duration(o: Record<string, unknown>, key: string, flag: string): number | undefined {
  const v = o[key] as string | undefined;
  if (v === undefined) return undefined;
  try {
    return parseGoDuration(v);
  } catch (err) {
    throw usageError(`invalid argument ${JSON.stringify(v)} for "${flag}" flag: ${(err as Error).message}`, 'use a duration such as 500ms, 10s or 1m30s');
  }
}

function healthFlags(o: Record<string, unknown>): HealthFlags {
  const retries = o.healthRetries as string | undefined;
  if (retries !== undefined && !/^[+-]?\d+$/.test(retries)) throw usageError(`invalid argument ${JSON.stringify(retries)} for "--health-retries" flag: strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
  return {
    cmd: o.healthCmd as string | undefined,
    interval: duration(o, 'healthInterval', '--health-interval'),
    timeout: duration(o, 'healthTimeout', '--health-timeout'),
    startPeriod: duration(o, 'healthStartPeriod', '--health-start-period'),
    startInterval: duration(o, 'healthStartInterval', '--health-start-interval'),
    retries: retries === undefined ? undefined : Number(retries),
    // commander's --no-X sets X to false (default true)
    none: o.healthcheck === false,
  };
}
