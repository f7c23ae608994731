/** rename: give a container a new, unused name. */
import type { Ctx } from '../context.js';
import { conflict } from '../util/errors.js';
import { readContainer, writeConfig, type Container } from './record.js';
import { nameTaken, validateName, withNamesLock } from './names.js';
import { refresh } from './status.js';

export function renameContainer(ctx: Ctx, c0: Container, newName: string): Container {
  const name = validateName(newName);
  refresh(ctx, c0);
  return withNamesLock(ctx, () => {
    const c = readContainer(ctx, c0.config.id) ?? c0;
    if (c.config.name === name) throw conflict(`container ${c.config.name} already has the name ${name}`, 'pick a different name');
    if (nameTaken(ctx, name, c.config.id)) throw conflict(`the name ${JSON.stringify(name)} is already in use by another container`, 'remove or rename that container first');
    c.config = { ...c.config, name };
    writeConfig(c);
    return c;
  });
}
