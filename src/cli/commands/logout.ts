import type { Command } from 'commander';
import { action } from '../common.js';

export function register(program: Command): void {
  program
    .command('logout')
    .description('Log out from a registry')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .action(
      action(async (server: string | undefined) => {
        const { logout } = await import('../../ops/login.js');
        const { registry, removed } = logout(server);
        process.stdout.write(removed ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
      }),
    );
}
