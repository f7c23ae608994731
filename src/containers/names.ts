/**
 * Container names: docker-like random `adjective_surname` names, the name
 * rule docker enforces, and the lock under which a name is checked and taken
 * (ROOT/containers/names.lock: create and rename both use it, so two of them
 * cannot take one name).
 */
import path from 'node:path';
import type { Ctx } from '../context.js';
import { usageError } from '../util/errors.js';
import { withLockSync } from '../util/lock.js';
import { listContainers } from './record.js';
import { randomInt } from '../util/builtins.js';

const ADJECTIVES =
  'admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold boring brave busy charming clever compassionate competent condescending confident cool cranky crazy dazzling determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic exciting fervent festive flamboyant focused friendly frosty funny gallant gifted goofy gracious great happy hardcore heuristic hopeful hungry infallible inspiring intelligent interesting jolly jovial keen kind laughing loving lucid magical modest musing mystifying naughty nervous nice nifty nostalgic objective optimistic peaceful pedantic pensive practical priceless quirky quizzical recursing relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous wizardly wonderful xenodochial youthful zealous zen'.split(
    ' ',
  );
const SURNAMES =
  'agnesi albattani allen almeida archimedes ardinghelli aryabhata austin babbage banach bardeen bartik bassi bell benz bhabha blackwell bohr booth borg bose boyd brahmagupta brattain brown buck burnell cannon carson cartwright cerf chandrasekhar chatelet chaum clarke colden cori cray curie darwin davinci dijkstra dubinsky easley edison einstein elion engelbart euclid euler faraday feistel fermat fermi feynman franklin galileo gates goldberg goldstine goodall hamilton hawking heisenberg hellman hermann hertz hodgkin hopper hypatia jackson jang jennings johnson kalam kapitsa keldysh keller kepler khorana kilby knuth kowalevski lalande lamarr lamport leakey leavitt lehmann lovelace lumiere mahavira margulis maxwell mayer mccarthy mcclintock mclean meitner mendel merkle mirzakhani montalcini morse murdock napier newton nobel noether pare pascal pasteur payne perlman pike poincare ptolemy raman ramanujan ride ritchie rosalind sammet shannon shaw shockley sinoussi snyder spence stonebraker swanson swartz tesla thompson torvalds turing varahamihira villani visvesvaraya volhard wescoff wiles williams wilson wing wozniak wright wu yalow yonath'.split(
    ' ',
  );

function pick(list: readonly string[]): string {
  return list[randomInt(list.length)]!;
}

export function randomName(): string {
  const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
  return name === 'boring_wozniak' ? randomName() : name; // docker's own rule: Steve Wozniak is not boring
}

/** docker's rule for container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ , at most 128 characters. */
export function validName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name) && name.length <= 128 && !/^[a-f0-9]{64}$/.test(name);
}

/** The name without docker's optional leading "/", or USAGE when it breaks the rule. */
export function validateName(name: string): string {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (!validName(n)) {
    throw usageError(`invalid container name ${JSON.stringify(name)}`, 'only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, 2 to 128 characters');
  }
  return n;
}

export function nameTaken(ctx: Ctx, name: string, exceptId?: string): boolean {
  return listContainers(ctx).some((c) => c.config.name === name && c.config.id !== exceptId);
}

/** A random name no container uses (call under withNamesLock). */
export function uniqueRandomName(ctx: Ctx): string {
  const used = new Set(listContainers(ctx).map((c) => c.config.name));
  for (let i = 0; i < 50; i++) {
    const n = randomName();
    if (!used.has(n)) return n;
  }
  for (let i = 2; ; i++) {
    const n = `${randomName()}${i}`;
    if (!used.has(n)) return n;
  }
}

/** Run fn holding ROOT/containers/names.lock: check-then-take of a name is atomic across processes. */
export function withNamesLock<T>(ctx: Ctx, fn: () => T): T {
  return withLockSync(path.join(ctx.containersDir, 'names.lock'), fn);
}
