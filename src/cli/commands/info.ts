/**
 * `tsrun info [--format TEMPLATE|json]`: docker's `info` for a daemonless
 * runtime. The facts come from ops/system-info.ts under docker's field names;
 * the text is laid out as docker's (a Client part, then the host and store facts).
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { goStructOf, renderObject } from '../format-object.js';
import { bytesSize } from '../../util/units.js';
import type { SystemInfo } from '../../ops/system-info.js';
import { TSRUN_VERSION } from '../../ops/version-info.js';

/** docker's "name=seccomp,profile=builtin" → "seccomp" and "Profile: builtin" below it. */
function securityLines(opts: string[]): string[] {
  const out: string[] = [];
  for (const o of opts) {
    const kv = Object.fromEntries(o.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
    out.push(`  ${kv.name ?? o}`);
    for (const [k, v] of Object.entries(kv)) if (k !== 'name') out.push(`   ${k[0]!.toUpperCase()}${k.slice(1)}: ${v}`);
  }
  return out;
}

export function infoText(i: SystemInfo): string {
  const l: string[] = [];
  l.push('Client:', ` Version:    ${TSRUN_VERSION}`, ' Context:    default', ` Debug Mode: ${i.Debug}`, '');
  l.push('Server:');
  l.push(` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`);
  l.push(` Images: ${i.Images}`);
  l.push(` Server Version: ${i.ServerVersion} (tsrun: no daemon, this host and --root)`);
  l.push(` Storage Driver: ${i.Driver}`, ...i.DriverStatus.map(([k, v]) => `  ${k}: ${v}`));
  l.push(` Logging Driver: ${i.LoggingDriver}`);
  l.push(` Cgroup Driver: ${i.CgroupDriver}`, ` Cgroup Version: ${i.CgroupVersion}`);
  l.push(' Plugins:', '  Volume: local', '  Network: bridge host none', '  Log: json-file');
  l.push(` Runtimes: ${Object.keys(i.Runtimes).sort().join(' ')}`, ` Default Runtime: ${i.DefaultRuntime}`, ` Init Binary: ${i.InitBinary}`);
  l.push(' Security Options:', ...securityLines(i.SecurityOptions));
  l.push(` Kernel Version: ${i.KernelVersion}`, ` Operating System: ${i.OperatingSystem}`, ` OSType: ${i.OSType}`, ` Architecture: ${i.Architecture}`);
  l.push(` CPUs: ${i.NCPU}`, ` Total Memory: ${bytesSize(i.MemTotal)}`, ` Name: ${i.Name}`);
  l.push(` Root Dir: ${i.DockerRootDir}`, ` Debug Mode: ${i.Debug}`);
  l.push(` Registries Config: ${i.RegistriesConf}`);
  l.push(' Insecure Registries:', ...i.RegistryConfig.InsecureRegistryCIDRs.map((c) => `  ${c}`));
  for (const ic of Object.values(i.RegistryConfig.IndexConfigs).sort((a, b) => a.Name.localeCompare(b.Name))) if (!ic.Secure && ic.Name !== 'docker.io') l.push(`  ${ic.Name}`);
  const mirrors = Object.values(i.RegistryConfig.IndexConfigs).filter((ic) => ic.Mirrors.length);
  if (mirrors.length) {
    l.push(' Registry Mirrors:');
    for (const ic of mirrors) for (const m of ic.Mirrors) l.push(`  ${ic.Name === 'docker.io' ? '' : `${ic.Name}: `}${m}/`);
  }
  return `${l.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('Display system-wide information')
    .option('-f, --format <format>', "format the output using a Go template ({{.Containers}}, {{json .RegistryConfig}}) or 'json'")
    .action(
      action(async (opts: { format?: string }, cmd: Command) => {
        const { systemInfo } = await import('../../ops/system-info.js');
        const info = systemInfo(ctxOf(cmd));
        process.stdout.write(opts.format ? renderObject(opts.format, goStructOf('system.Info', info)) : infoText(info));
      }),
    );
}
