/**
 * hostnic completion bash|zsh|fish: print the completion script of a shell.
 *
 * The scripts are the hand-written files of completions/, shipped in the npm
 * package next to dist/. This module runs from a bundle chunk in dist/, so
 * `../completions/` from here is the package root's completions/ (both in a
 * checkout and in an installed package); `../../completions/` covers running
 * from the source tree (src/commands/).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from '../errors.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const FILES: Record<Shell, string> = { bash: 'hostnic.bash', zsh: '_hostnic', fish: 'hostnic.fish' };

export function completionScript(shell: Shell): string {
  const candidates = [`../completions/${FILES[shell]}`, `../../completions/${FILES[shell]}`].map((p) => new URL(p, import.meta.url));
  for (const url of candidates) {
    try {
      return readFileSync(url, 'utf8');
    } catch {
      /* try the next place */
    }
  }
  throw new UsageError(`the ${shell} completion script is missing from this installation (looked for completions/${FILES[shell]} next to dist/)`);
}

/** The shell asked for, or the user's login shell when none was named. */
export function pickShell(asked: string | undefined, env: NodeJS.ProcessEnv = process.env): Shell {
  const name = asked ?? basename(env.SHELL ?? '');
  if ((SHELLS as readonly string[]).includes(name)) return name as Shell;
  if (asked === undefined) throw new UsageError('name a shell: hostnic completion bash|zsh|fish');
  throw new UsageError(`no completion for ${JSON.stringify(name)}: choose bash, zsh or fish`);
}

export function completionCommand(asked: string | undefined): number {
  process.stdout.write(completionScript(pickShell(asked)));
  return 0;
}
