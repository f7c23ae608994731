/** rename: give a container a new, unused name. */
import type { Ctx } from '../context.js';
import { conflict } from '../util/errors.js';
import { writeConfig, type Container } from './record.js';
import { nameTaken, validateName, withNamesLock } from './names.js';
import { transitionSync } from './transition.js';

export function renameContainer(ctx: Ctx, c0: Container, newName: string): Container {
  const name = validateName(newName);
  // lock order: the container's, then the names lock (create takes only the names lock)
  return transitionSync(ctx, c0, 'rename', (c) => withNamesLock(ctx, () => {
    if (c.config.name === name) throw conflict(`container ${c.config.name} already has the name ${name}`, 'pick a different name');
    if (nameTaken(ctx, name, c.config.id)) throw conflict(`the name ${JSON.stringify(name)} is already in use by another container`, 'remove or rename that container first');
    c.config = { ...c.config, name };
    writeConfig(c);
    return c;
  }));
}
