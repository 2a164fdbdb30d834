/**
 * Shared by the reliability suites (reliability-*.test.ts): driving a paused
 * hostnic, killing it like a crash or a terminal would, and reading what it
 * left in the state directory. Not a test file itself.
 */
import type { ChildProcess } from 'node:child_process';
import { giveDefaultRoute, takeHostName, viaPrivateNamespace } from '../helpers/hostnic.js';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { signalGroup, waitForExit, type Lab, type RunResult, type Snapshot } from '../helpers/lab.js';
import { comparable, pausedAt } from '../helpers/hostnic.js';

export const HOOKS = { HOSTNIC_TEST_HOOKS: '1' };


export interface JournalDoc {
  id: string;
  title: string;
  pid: number;
  phase: 'apply' | 'rollback';
  steps: { spec: { kind: string; title: string; inverse?: boolean }; state: string }[];
}

export function journalFiles(lab: Lab): string[] {
  const dir = join(lab.stateDir, 'journal');
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
}

export function attachmentFiles(lab: Lab): string[] {
  const dir = join(lab.stateDir, 'attachments');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The one journal in the lab's state directory. */
export function theJournal(lab: Lab): JournalDoc {
  const files = journalFiles(lab);
  if (files.length !== 1) throw new Error(`expected one journal, found ${files.join(', ') || 'none'}`);
  return JSON.parse(readFileSync(join(lab.stateDir, 'journal', files[0]!), 'utf8')) as JournalDoc;
}

/** Does /run/netns/<name> exist? */
export const netnsExists = (name: string): boolean => existsSync(`/run/netns/${name}`);

/** Start hostnic with a pause point and wait until it sits there. */
export async function startPaused(lab: Lab, args: string[], where: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = lab.spawnHostnic(args, { env: { ...HOOKS, HOSTNIC_TEST_PAUSE: where, ...env } });
  try {
    await pausedAt(lab.stateDir, where);
  } catch (e) {
    try { signalGroup(child, 'SIGKILL'); } catch { /* it ended by itself */ }
    const r = await waitForExit(child);
    throw new Error(`${(e as Error).message}\nexit ${r.exitCode}\n${r.stdout}${r.stderr}`, { cause: e });
  }
  return child;
}

/** SIGKILL the whole process group, as a crash (or `kill -9 -PGID`) would, and wait for it. */
export async function crash(child: ChildProcess): Promise<RunResult> {
  try {
    signalGroup(child, 'SIGKILL');
  } catch { /* it ended by itself already */ }
  return waitForExit(child);
}

/** The tag id in ifaliases differs from one attach to the next: blank it out. */
export function untagged(snap: Snapshot): Snapshot {
  const c = comparable(snap);
  return {
    ...c,
    links: c.links.map((l) => (typeof l.ifalias === 'string' ? { ...l, ifalias: l.ifalias.replace(/\bid=\w+/, 'id=*') } : l)),
  };
}

/** Inode of a network namespace file. */
export const nsInode = (path: string): number => statSync(path).ino;

/**
 * Every reference to a network namespace on the machine: processes inside it
 * and nsfs bind mounts of it (in any mount namespace), plus /run/netns names.
 * The test's own view, independent of src/holders.ts.
 */
export function referencesTo(ino: number): { pids: number[]; mounts: string[]; names: string[] } {
  const pids: number[] = [];
  const mounts = new Set<string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/net`) === `net:[${ino}]`) pids.push(Number(e));
    } catch { /* gone or a kernel thread */ }
    try {
      for (const line of readFileSync(`/proc/${e}/mountinfo`, 'utf8').split('\n')) {
        const f = line.split(' ');
        if (f[3] === `net:[${ino}]`) mounts.add(f[4]!);
      }
    } catch { /* gone */ }
  }
  const names = readdirSync('/run/netns').filter((n) => {
    try { return statSync(`/run/netns/${n}`).ino === ino; } catch { return false; }
  });
  return { pids, mounts: [...mounts], names };
}

/** stderr is one `hostnic: ...` line, optionally followed by one `hint: ...` line. */
export function expectOneError(r: RunResult, label: string, pattern?: RegExp): void {
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  expect.soft(lines[0], label).toMatch(/^hostnic: /);
  if (pattern) expect.soft(lines[0], label).toMatch(pattern);
  expect.soft(lines.length, `${label}: ${r.stderr}`).toBeLessThanOrEqual(2);
  if (lines.length === 2) expect.soft(lines[1], label).toMatch(/^hint: /);
}

export { giveDefaultRoute, takeHostName, viaPrivateNamespace };
