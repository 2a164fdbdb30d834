/**
 * The state directory (default /run/hostnic): attachment records, journals of
 * plans in flight, and lock files (src/runner/locks.ts). Every file is
 * written atomically (temp file, fsync, rename, fsync of the directory), 0600
 * in a 0700 directory.
 */
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { RefusedError } from './errors.js';

/**
 * The version of every file in the state directory (journals, records): a
 * hostnic reads its own schema only, and says so for any other. 2: typed
 * steps with ids, saved data keyed by step id.
 */
export const SCHEMA = 2;

/** The state directory: $HOSTNIC_STATE_DIR, else /run/hostnic. The one definition (host/paths.ts uses it too). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOSTNIC_STATE_DIR || '/run/hostnic';
}

export class StateDir {
  constructor(readonly root: string) {}

  get journalDir(): string { return join(this.root, 'journal'); }
  get attachDir(): string { return join(this.root, 'attachments'); }

  ensure(): void {
    const uid = process.getuid?.() ?? 0;
    for (const dir of [this.root, this.journalDir, this.attachDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = statSync(dir);
      // Someone else's directory could hold records and journals planted to make us undo things that are not ours.
      if (st.uid !== uid) {
        throw new RefusedError(
          `state directory ${dir} is owned by uid ${st.uid}, not root: refusing to use it`,
          'it must be a root-owned directory (mode 0700): remove it, or choose another with --state-dir',
        );
      }
      if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
    }
  }

  /**
   * Write JSON atomically: a crash leaves the old file or the new one, never
   * half of one. `syncDir: false` skips the directory fsync when replacing a
   * file whose first version was already made durable (the journal between
   * steps): a power cut then leaves an older, still consistent journal.
   */
  writeJson(path: string, value: unknown, { syncDir = true }: { syncDir?: boolean } = {}): void {
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (!syncDir) return;
    const dfd = openSync(join(path, '..'), 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  }

  remove(path: string): void {
    rmSync(path, { force: true });
  }

  /** Read every JSON file of a directory; a file that does not parse is reported, not fatal. */
  readAll<T>(dir: string, check: (v: unknown) => v is T): { items: T[]; bad: { file: string; error: string }[] } {
    const items: T[] = [];
    const bad: { file: string; error: string }[] = [];
    let names: string[] = [];
    try { names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort(); } catch { /* no dir yet */ }
    for (const name of names) {
      const file = join(dir, name);
      try {
        const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
        if (isObject(value) && value.schema !== SCHEMA && (typeof value.schema === 'number' || typeof value.schema === 'string')) {
          bad.push({ file, error: `written by a hostnic with state schema ${String(value.schema)}; this hostnic reads schema ${SCHEMA}` });
        } else if (check(value)) items.push(value);
        else bad.push({ file, error: 'not a hostnic state file of a schema this version knows' });
      } catch (e) {
        bad.push({ file, error: `unreadable: ${(e as Error).message.split('\n')[0]}` });
      }
    }
    return { items, bad };
  }

  /**
   * Remove the temp files of writes cut short (a hostnic killed between the
   * temp file and the rename leaves `<name>.<pid>.tmp`): only those whose
   * writer is gone (each writer names its temp file after its own pid).
   */
  sweepTemporaries(): void {
    for (const dir of [this.root, this.journalDir, this.attachDir]) {
      let names: string[];
      try { names = readdirSync(dir); } catch { continue; }
      for (const name of names) {
        const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
        if (pid && Number(pid) !== process.pid && !existsSync(`/proc/${pid}`)) rmSync(join(dir, name), { force: true });
      }
    }
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
