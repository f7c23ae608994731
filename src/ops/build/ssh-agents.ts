/**
 * `build --ssh ID[=SOCKET|KEYFILE[,KEYFILE…]]` for `RUN --mount=type=ssh`, as buildx does it:
 *   - no paths: the agent at $SSH_AUTH_SOCK;
 *   - one path that is a socket: that agent;
 *   - key files: an `ssh-agent` (openssh-client) this build starts before its first step, holding
 *     those keys, killed by its PID when the build ends (buildx keeps an in-process keyring).
 * A RUN never sees the agent's own socket: each ssh mount gets a proxy socket of its own in a
 * temp dir (owned uid:gid, mode as the mount says, default root 0600), bind-mounted at the
 * target for that step alone; connections to it are piped to the agent by this process.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Ctx } from '../../context.js';
import { TsrunError, usageError } from '../../util/errors.js';
import { procState } from '../../containers/status.js';
import { acceptsConnection } from '../../util/socket-accepts.js';

/** How long a loaded machine may take to end an agent sent SIGTERM. */
const AGENT_STOP_MS = 5_000;

/** One `--ssh` value: the id and the socket or key files it names (none: $SSH_AUTH_SOCK). */
export interface SshSpec {
  id: string;
  socket?: string;
  keys: string[];
}

/** Parse and check `--ssh` values (paths must exist; one socket, or key files, per id). */
export function parseSshSpecs(values: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, SshSpec> {
  const out = new Map<string, SshSpec>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const id = eq < 0 ? value : value.slice(0, eq);
    if (!id) throw usageError(`invalid --ssh ${JSON.stringify(value)}: the id is empty`, 'use --ssh default or --ssh ID=SOCKET|KEYFILE');
    if (out.has(id)) throw usageError(`duplicate ssh agent ID ${id}`, 'give each --ssh id once');
    let paths = eq < 0 ? [] : value.slice(eq + 1).split(',');
    if (paths.length === 0 || (paths.length === 1 && paths[0] === '')) paths = [env.SSH_AUTH_SOCK ?? ''];
    if (paths[0] === '') throw usageError(`invalid empty ssh agent socket for --ssh ${id}: make sure SSH_AUTH_SOCK is set`, `start an agent (eval $(ssh-agent)) or give --ssh ${id}=SOCKET|KEYFILE`);
    const spec: SshSpec = { id, keys: [] };
    for (const p of paths) {
      let st: fs.Stats;
      try {
        st = fs.statSync(p);
      } catch (err) {
        throw usageError(`--ssh ${id}: ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'give an agent socket or a private key file');
      }
      if (st.isSocket()) {
        if (spec.socket) throw usageError(`--ssh ${id}: only a single socket is allowed`, 'give one agent socket, or key files');
        spec.socket = p;
      } else if (st.isFile()) spec.keys.push(path.resolve(p));
      else throw usageError(`--ssh ${id}: ${p} is neither a socket nor a key file`);
    }
    if (spec.socket && spec.keys.length) throw usageError(`--ssh ${id}: cannot combine a socket and key files`, 'give one or the other');
    out.set(id, spec);
  }
  return out;
}

export interface SocketOptions {
  uid: number;
  gid: number;
  mode: number;
}

/** The agents of one build: sockets given, or ssh-agents started for key files on first use. */
export class SshAgents {
  private readonly started = new Map<string, Promise<string>>();
  private readonly children: ChildProcess[] = [];
  private readonly dirs: string[] = [];

  constructor(
    private readonly ctx: Ctx,
    private readonly specs: ReadonlyMap<string, SshSpec>,
  ) {}

  /** Start the agents for key files now, as buildx loads keys before the build: a bad key fails first. */
  async start(): Promise<void> {
    try {
      for (const spec of this.specs.values()) if (!spec.socket) await this.socketFor(spec.id);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** True when `--ssh` was given at all (BuildKit tells "none forwarded" from "not this id"). */
  get any(): boolean {
    return this.specs.size > 0;
  }

  has(id: string): boolean {
    return this.specs.has(id);
  }

  /** The agent socket for `id` (an ssh-agent is started for key files, once per build). */
  socketFor(id: string): Promise<string> {
    const spec = this.specs.get(id);
    if (!spec) throw new Error(`no ssh id ${id}`);
    if (spec.socket) return Promise.resolve(spec.socket);
    let p = this.started.get(id);
    if (!p) {
      p = this.startAgent(spec);
      this.started.set(id, p);
    }
    return p;
  }

  private async startAgent(spec: SshSpec): Promise<string> {
    fs.mkdirSync(this.ctx.tmpDir, { recursive: true });
    const dir = fs.mkdtempSync(path.join(this.ctx.tmpDir, `${process.pid}-ssh-agent-`));
    this.dirs.push(dir);
    const sock = path.join(dir, 'agent.sock');
    // -D: in the foreground, so the child is the agent and its PID is the one to kill
    const child = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    this.children.push(child);
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(new TsrunError('BUILD', `--ssh ${spec.id}: cannot start ssh-agent: ${e.code ?? e.message}`, { hint: 'install openssh-client (ssh-agent), or pass an agent socket' })),
      );
      child.once('exit', (code) => reject(new TsrunError('BUILD', `--ssh ${spec.id}: ssh-agent exited (${code}) before it listened`, { hint: 'run ssh-agent -D -a SOCKET by hand to see why' })));
    });
    failed.catch(() => {});
    // the socket file appears at bind(), before listen(): wait until a connection is accepted
    const deadline = Date.now() + 30_000;
    while (!(await acceptsConnection(sock))) {
      if (Date.now() > deadline) throw new TsrunError('BUILD', `--ssh ${spec.id}: ssh-agent did not listen within 30 s`);
      await Promise.race([new Promise((r) => setTimeout(r, 20)), failed]);
    }
    for (const key of spec.keys) {
      // never ask for a passphrase: a protected key is refused with ssh-add's reason
      const r = spawnSync('ssh-add', ['-q', key], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SSH_AUTH_SOCK: sock, SSH_ASKPASS_REQUIRE: 'never' },
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (r.status !== 0) {
        const why = (r.error as NodeJS.ErrnoException | undefined)?.code ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`;
        throw new TsrunError('USAGE', `--ssh ${spec.id}: cannot load the key ${key}: ${why}`, { hint: 'give an unencrypted private key, or add it to an agent and pass the agent socket' });
      }
    }
    return sock;
  }

  /**
   * Kill the agents this build started (by PID), wait until they are gone (the build has not ended
   * while an agent holding its keys still runs), and remove their sockets.
   */
  close(): void {
    const pids: number[] = [];
    for (const c of this.children) if (c.exitCode === null && c.pid !== undefined && c.kill('SIGTERM')) pids.push(c.pid);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const running = (pid: number) => {
      const s = procState(pid);
      return s !== undefined && s !== 'Z' && s !== 'X';
    };
    for (const end = Date.now() + AGENT_STOP_MS; pids.some(running) && Date.now() < end; ) Atomics.wait(sleeper, 0, 0, 10);
    for (const pid of pids.filter(running)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* ended meanwhile */
      }
    }
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

/**
 * A socket at `file` whose connections are piped to `agent`; owned and moded as given.
 * `close()` stops it and drops every open connection.
 */
export async function proxySocket(file: string, agent: string, o: SocketOptions): Promise<{ close(): void }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(agent);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  fs.chownSync(file, o.uid, o.gid);
  fs.chmodSync(file, o.mode);
  // the build waits on the RUN's status pipe, not on this server
  server.unref();
  return {
    close() {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}
