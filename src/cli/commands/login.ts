import type { Command } from 'commander';
import { action } from '../common.js';
import { TsrunError } from '../../util/errors.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function register(program: Command): void {
  program
    .command('login')
    .description('Log in to a registry (credentials are stored in docker\'s config.json)')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <pass>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      action(async (server: string | undefined, flags: LoginFlags) => {
        const { login } = await import('../../ops/login.js');
        if (flags.password && flags.passwordStdin) throw new TsrunError('USAGE', '--password and --password-stdin are mutually exclusive');
        if (flags.passwordStdin && !flags.username) throw new TsrunError('USAGE', 'must provide --username with --password-stdin');
        const password = flags.passwordStdin ? await readStdin() : flags.password;
        if (!flags.username || !password) {
          throw new TsrunError('USAGE', 'username and password are required', { hint: 'tsrun login -u USER --password-stdin [SERVER] (interactive prompts are not supported)' });
        }
        if (flags.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
        await login(server, { username: flags.username, password });
        process.stdout.write('Login Succeeded\n');
      }),
    );
}
