/** docker's prune prompt: "… [y/N] " on stderr, yes only for y/yes; no answer (EOF, no stdin) is no. */
import readline from 'node:readline';

export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.readable) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
