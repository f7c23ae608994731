import type { Command } from 'commander';
import { restartContainer } from '../../containers/restart.js';
import { stopLikeCommand } from './stop.js';

export function register(program: Command): void {
  stopLikeCommand(program, 'restart', 'Restart one or more containers', restartContainer);
}
