/**
 * create: a container record from an image and docker's run flags. Nothing
 * runs yet. The record appears complete or not at all: the dir is filled
 * first and config.json (what makes it a container) is written last, all
 * under the shared gc lock (rmi cannot collect the image's layers mid-way)
 * and the names lock (two creates cannot take the same name).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import type { Image } from '../images/store.js';
import { conflict, syscallError, TsrunError, usageError } from '../util/errors.js';
import { withLockSync } from '../util/lock.js';
import { writeJsonReplace } from '../util/atomic.js';
import { os } from '../util/builtins.js';
import { containerDir, listContainers, newContainerId, type Container, type ContainerConfig } from './record.js';
import { randomName, validName } from './names.js';
import { mergeEnv, parseEnv, parseSecurityOpts, parseSysctls, parseUlimit, parseUserns, validateCaps, type RunFlags } from './options.js';
import { parseMountFlags, parseVolumesFrom } from '../volumes/spec.js';
import { addVolumesFrom, initialMounts, resolveVolumes, usesVolumeStore } from './volumes.js';
import { mountTargets } from '../runtime/mounts.js';
import { readSeccompFile } from '../runtime/seccomp.js';
import { specSeccomp } from '../runtime/spec/seccomp.js';
import { mark } from '../util/trace.js';
import { parseDevice, parseDeviceCgroupRule } from '../runtime/devices.js';
import { removeTreeTolerant } from '../util/rmtree.js';
import { exposedBindings, parsePublish } from '../runtime/network/ports.js';
import { parseAddHost } from '../runtime/network/etcfiles.js';
import { findContainer } from './record.js';
import { NO_RESTART, parseRestartPolicy } from './restart-policy.js';
import { mergeHealthcheck } from './health.js';
import { hostPlatform, type HealthConfig } from '../oci/types.js';
import { noResources, parseOomScoreAdj, parseResources, parseShmSize, toLinuxResources } from '../runtime/resources.js';
import { blockDeviceNumber, hostFacts } from '../runtime/resources-host.js';
import { checkPropagationSources } from '../runtime/spec/propagation.js';

/** -p, -P, --ip, --dns*, --add-host → the host config's network part; checked before anything is written. */
function networkSettings(f: RunFlags, mode: string, image: Image): Partial<ContainerConfig['host']> {
  const own = mode !== 'none' && mode !== 'host' && !mode.startsWith('container:');
  let ports = (f.publish ?? []).map(parsePublish);
  if (f.publishAll) ports = [...ports, ...exposedBindings(Object.keys((image.config.config?.ExposedPorts as Record<string, unknown> | undefined) ?? {}))];
  if (ports.length && !own) throw usageError(`conflicting options: port publishing and the ${mode.split(':')[0]} network mode`);
  if (f.ip !== undefined && !own) throw usageError(`conflicting options: --ip and the ${mode.split(':')[0]} network mode`);
  const aliases = f.networkAlias ?? [];
  if (aliases.length && (!own || mode === 'bridge')) throw usageError('network-scoped aliases are supported only for containers in user defined networks');
  for (const a of aliases) if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(a) || a.length > 253) throw usageError(`invalid --network-alias ${JSON.stringify(a)}`, 'use a DNS name: letters, digits, ".", "-" and "_"');
  const extraHosts = (f.addHost ?? []).map(parseAddHost);
  const dns = { dns: f.dns ?? [], dnsSearch: f.dnsSearch ?? [], dnsOptions: f.dnsOption ?? [] };
  for (const d of dns.dns) if (!/^[0-9a-fA-F.:]+$/.test(d)) throw usageError(`invalid --dns ${JSON.stringify(d)}`, 'give an IP address');
  return {
    ...(ports.length ? { portBindings: ports } : {}),
    ...(f.publishAll ? { publishAll: true } : {}),
    ...(f.ip !== undefined ? { ip: f.ip } : {}),
    ...(aliases.length ? { networkAliases: [...new Set(aliases)] } : {}),
    ...(extraHosts.length ? { extraHosts } : {}),
    ...(dns.dns.length || dns.dnsSearch.length || dns.dnsOptions.length ? { dns } : {}),
  };
}

/** The network mode as recorded: container:NAME becomes container:ID; a network must exist (bridge is made). */
async function resolveNetworkMode(ctx: Ctx, cfg: ContainerConfig): Promise<void> {
  const mode = cfg.host.network;
  if (mode === 'none' || mode === 'host') return;
  if (mode.startsWith('container:')) {
    const other = findContainer(ctx, mode.slice('container:'.length));
    cfg.host.network = `container:${other.config.id}`;
    return;
  }
  const { getNetwork } = await import('../runtime/network/store.js');
  const { findNetavark } = await import('../runtime/network/netavark.js');
  findNetavark();
  const n = getNetwork(ctx, mode);
  cfg.host.network = n.name;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Everything validated before the lock is taken. */
export function buildConfig(imageRef: string, image: Image, cmd: string[], f: RunFlags, id: string): ContainerConfig {
  const ic = image.config.config ?? {};
  let entrypoint: string[] = (ic.Entrypoint as string[] | null | undefined) ?? [];
  let command: string[] = cmd.length ? cmd : ((ic.Cmd as string[] | null | undefined) ?? []);
  if (f.entrypoint !== undefined) {
    entrypoint = f.entrypoint === '' ? [] : [f.entrypoint];
    command = cmd; // docker: --entrypoint discards the image's Cmd
  }
  const argv = [...entrypoint, ...command];
  if (!argv.length) throw usageError('no command specified', 'give a command after the image, or use an image with Cmd/Entrypoint');
  const workdir = f.workdir ?? ((ic.WorkingDir as string | undefined) || '/');
  if (!workdir.startsWith('/')) throw usageError(`the working directory ${JSON.stringify(workdir)} is invalid: it needs to be an absolute path`);
  const imageEnv = (ic.Env as string[] | undefined) ?? [];
  let env = mergeEnv(imageEnv, parseEnv(f.envFile, f.env));
  if (!env.some((e) => e.startsWith('PATH='))) env = [DEFAULT_PATH, ...env];
  if (f.tty) env = mergeEnv(['TERM=xterm'], env);
  const network = f.network || 'bridge';
  const net = networkSettings(f, network, image);
  const hostname = f.hostname ?? (network === 'host' ? os().hostname() : id.slice(0, 12));
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname)) throw usageError(`invalid hostname ${JSON.stringify(hostname)}`);
  const { mounts, configVolumes } = initialMounts(parseMountFlags(f), image);
  for (const v of f.volumesFrom ?? []) parseVolumesFrom(v);
  const sec = parseSecurityOpts(f.securityOpt);
  const capAdd = validateCaps(f.capAdd);
  const capDrop = validateCaps(f.capDrop);
  const devices = (f.device ?? []).map(parseDevice);
  const deviceCgroupRules = f.deviceCgroupRule ?? [];
  for (const r of deviceCgroupRules) parseDeviceCgroupRule(r);
  const restartPolicy = f.restart !== undefined ? parseRestartPolicy(f.restart) : NO_RESTART;
  if (f.rm && restartPolicy.name !== 'no') throw usageError('Conflicting options: --restart and --rm', 'a container removed when it exits cannot be restarted');
  const healthcheck = mergeHealthcheck(f.health ?? {}, ic.Healthcheck as HealthConfig | undefined);
  const resources = f.resources ? parseResources(f.resources, hostFacts) : {};
  // throttled devices must exist now (docker stats them at create), not at the first start
  toLinuxResources(resources, blockDeviceNumber);
  const oomScoreAdj = f.oomScoreAdj !== undefined ? parseOomScoreAdj(f.oomScoreAdj) : undefined;
  const shmSize = f.shmSize !== undefined ? parseShmSize(f.shmSize) : undefined;
  // parsed only when given: run's start-up path stays as it was
  const sysctls = f.sysctl?.length ? parseSysctls(f.sysctl, network) : undefined;
  const userns = f.userns !== undefined || f.uidmap?.length || f.gidmap?.length ? parseUserns(f.userns, f.uidmap ?? [], f.gidmap ?? [], { privileged: f.privileged, network }) : undefined;
  const labels: Record<string, string> = {};
  for (const l of f.label) {
    const eq = l.indexOf('=');
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  const cfg: ContainerConfig = {
    id,
    name: f.name ?? '',
    created: new Date().toISOString(),
    image: imageRef,
    imageId: image.record.id,
    layers: image.chainIds,
    path: argv[0]!,
    args: argv.slice(1),
    env,
    workingDir: workdir,
    user: f.user ?? ((ic.User as string | undefined) || ''),
    hostname,
    tty: f.tty,
    openStdin: f.interactive,
    // docker's CLI: -i attaches stdin (and then StdinOnce) unless -d, which attaches nothing
    attachStdin: f.interactive && !f.detach,
    attachStdout: !f.detach,
    attachStderr: !f.detach,
    stdinOnce: f.interactive && !f.detach,
    stopSignal: (ic.StopSignal as string | undefined) || 'SIGTERM',
    labels,
    ...(healthcheck ? { healthcheck } : {}),
    ...(Array.isArray(ic.Shell) && ic.Shell.length && ic.Shell.every((s) => typeof s === 'string') ? { shell: ic.Shell } : {}),
    ...(configVolumes.length ? { volumes: configVolumes } : {}),
    host: {
      autoRemove: f.rm,
      ...(restartPolicy.name !== 'no' ? { restartPolicy } : {}),
      mounts,
      readonlyRootfs: f.readOnly,
      network,
      ...net,
      privileged: f.privileged,
      capAdd,
      capDrop,
      noNewPrivileges: sec.noNewPrivileges,
      seccomp: sec.seccomp,
      init: f.init,
      ulimits: f.ulimit.map(parseUlimit),
      ...(devices.length ? { devices } : {}),
      ...(deviceCgroupRules.length ? { deviceCgroupRules } : {}),
      ...(noResources(resources) ? {} : { resources }),
      ...(oomScoreAdj !== undefined ? { oomScoreAdj } : {}),
      ...(shmSize !== undefined ? { shmSize } : {}),
      ...(sysctls ? { sysctls } : {}),
      ...(userns?.mode ? { usernsMode: userns.mode } : {}),
      ...(userns?.uidMaps ? { uidMaps: userns.uidMaps, gidMaps: userns.gidMaps } : {}),
    },
  };
  cfg.host.bindTargets = mountTargets(cfg);
  if (sec.seccomp !== 'default' && sec.seccomp !== 'unconfined') specSeccomp(readSeccompFile(sec.seccomp), []); // fail now, not at start
  return cfg;
}

function hostsFile(hostname: string, network: string): string {
  if (network === 'host') {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* fall through to the minimal file */
    }
  }
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `127.0.1.1\t${hostname}`, ''].join('\n');
}

function resolvConf(network: string): string {
  if (network === 'host') {
    try {
      return fs.readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* none */
    }
  }
  return network === 'none' ? '# tsrun: no network (--network none)\n' : '';
}

/** Fill the container dir; config.json last. */
function writeRecord(dir: string, cfg: ContainerConfig): void {
  fs.mkdirSync(dir, { mode: 0o700 });
  for (const d of ['upper', 'work', 'rootfs']) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
  if (!cfg.layers.length) fs.mkdirSync(path.join(dir, 'empty'), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'hostname'), `${cfg.hostname}\n`, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'hosts'), hostsFile(cfg.hostname, cfg.host.network), { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'resolv.conf'), resolvConf(cfg.host.network), { mode: 0o644 });
  if (cfg.host.seccomp !== 'default' && cfg.host.seccomp !== 'unconfined') {
    fs.copyFileSync(cfg.host.seccomp, path.join(dir, 'seccomp.json'));
    cfg.host.seccomp = 'seccomp.json'; // relative to the container dir from now on
  }
  for (const m of cfg.host.mounts) {
    // -v creates a missing bind source as a directory (docker); --mount refuses it (checked before the lock)
    if (m.type === 'bind' && m.from !== '--mount' && !fs.existsSync(m.source!)) fs.mkdirSync(m.source!, { recursive: true });
  }
  // no state.json yet: a record without one is 'created' (readContainer), and one file fewer matters
  // to start-up on an ext4 without a journal (each new inode skips those freed in the last 30 s)
  writeJsonReplace(path.join(dir, 'config.json'), cfg);
}

export async function createContainer(ctx: Ctx, imageRef: string, image: Image, cmd: string[], flags: RunFlags): Promise<Container> {
  if (flags.name !== undefined && !validName(flags.name)) throw usageError(`invalid container name ${JSON.stringify(flags.name)}`, 'only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
  // another architecture's image runs through binfmt_misc's emulator: say so now if there is none
  // (the check is loaded only for such an image, so run's start-up does not pay for it)
  if (image.config.architecture !== hostPlatform().architecture) {
    const [{ checkCanRun }, { imagePlatform }] = await Promise.all([import('../runtime/emulation.js'), import('../oci/platform.js')]);
    checkCanRun(imagePlatform(image.config));
  }
  const id = newContainerId();
  const cfg = buildConfig(imageRef, image, cmd, flags, id);
  await resolveNetworkMode(ctx, cfg);
  addVolumesFrom(ctx, cfg, flags.volumesFrom ?? []);
  cfg.host.bindTargets = mountTargets(cfg);
  checkBindSources(cfg);
  checkPropagationSources(cfg.host.mounts);
  return withContentLock(ctx, async () => {
    // prepare: unpack layers that are only registered (commit) or were collected, from their blobs.
    // The unpacker (tar, zlib, streams) is loaded only then: the usual image has every layer unpacked.
    if (image.chainIds.length !== image.manifest.layers.length || !image.chainIds.every((id) => ctx.layers.has(id))) {
      const { ensureImageLayers } = await import('../images/unpack.js');
      await ensureImageLayers(ctx, image.manifest, image.config);
    }
    mark('layers ok');
    if (!usesVolumeStore(cfg)) return writeLocked(ctx, cfg, id);
    const { withVolumesLockAsync } = await import('../volumes/store.js');
    return withVolumesLockAsync(ctx, async () => {
      const lowers = cfg.layers.map((l) => ctx.layers.diffDir(l)).reverse();
      const undo = await resolveVolumes(ctx, cfg, lowers);
      try {
        return writeLocked(ctx, cfg, id);
      } catch (err) {
        undo();
        throw err;
      }
    });
  });
}

/** --mount type=bind refuses a missing source (docker's daemon does; -v creates it). */
function checkBindSources(cfg: ContainerConfig): void {
  for (const m of cfg.host.mounts) {
    if (m.type === 'bind' && m.from === '--mount' && !fs.existsSync(m.source!)) {
      throw usageError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    }
  }
}

/**
 * A container in a user namespace is set up by root of that namespace, a plain uid on the host:
 * the dirs on the way to its rootfs and its hosts/resolv.conf must let it pass (search, not list),
 * as docker's store with userns-remap is 0711.
 */
function searchableForUserns(ctx: Ctx, dir: string): void {
  for (const d of [ctx.root, ctx.containersDir, dir]) {
    const mode = fs.statSync(d).mode & 0o7777;
    if ((mode & 0o011) !== 0o011) fs.chmodSync(d, mode | 0o011);
  }
}

/** The record itself, under the names lock (two creates cannot take the same name). */
function writeLocked(ctx: Ctx, cfg: ContainerConfig, id: string): Container {
  return withLockSync(path.join(ctx.containersDir, 'names.lock'), () => {
    const taken = new Set(listContainers(ctx).map((c) => c.config.name));
    if (cfg.name) {
      if (taken.has(cfg.name)) throw conflict(`the container name "/${cfg.name}" is already in use`, 'remove that container or choose another name with --name');
    } else {
      do cfg.name = randomName();
      while (taken.has(cfg.name));
    }
    const dir = containerDir(ctx, id);
    try {
      writeRecord(dir, cfg);
      if (cfg.host.usernsMode === 'private' || cfg.host.usernsMode?.startsWith('ns:')) searchableForUserns(ctx, dir);
    } catch (err) {
      removeTreeTolerant(dir);
      throw syscallError(`cannot create container ${cfg.name}`, err);
    }
    return { dir, config: cfg, state: { status: 'created' as const } };
  });
}
