/**
 * The state directory (default /run/hostnic): attachment records, journals of
 * plans in flight, and lock files (src/runner/locks.ts). Every file is
 * written atomically (temp file, fsync, rename, fsync of the directory), 0600
 * in a 0700 directory.
 */
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeSync, lstatSync, realpathSync, accessSync, constants,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from './errors.js';

/**
 * This process's pid as /proc names it. Not always process.pid: the DHCP
 * client's event script (src/dhcp/renew.ts) runs a plan from inside a
 * container's pid namespace, where getpid() is the container's number for
 * it, while /proc (the host's) and every other hostnic use the host's.
 */
let own: number | undefined;
export function ownPid(): number {
  if (own !== undefined) return own;
  try {
    const pid = Number(readlinkSync('/proc/self'));
    own = Number.isInteger(pid) && pid > 0 ? pid : process.pid;
    return own;
  } catch {
    return process.pid;
  }
}

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
  /** Restores a detach could not finish (src/incomplete.ts); made when the first one is written. */
  get incompleteDir(): string { return join(this.root, 'incomplete'); }

  /** The DHCP clients' lease and pid files (src/dhcp/); made when the first client starts. */
  get dhcpDir(): string { return join(this.root, 'dhcp'); }

  /** ensure(), and the dhcp/ directory too. */
  ensureDhcp(): void {
    this.ensure();
    checkStateDir(this.dhcpDir);
  }

  /**
   * Make sure the state directory and its subdirectories are usable, creating
   * what is missing (0700). An existing directory is taken as it is, never
   * chmod-ed (`--state-dir /tmp` must not make /tmp 0700): one that is a
   * symlink, not a directory, not root's, group- or world-writable, or
   * read-only is refused (exit 2), before anything is written.
   */
  ensure(): void {
    for (const dir of [this.root, this.journalDir, this.attachDir]) checkStateDir(dir);
  }

  /** ensure(), and the incomplete/ directory too. */
  ensureIncomplete(): void {
    this.ensure();
    checkStateDir(this.incompleteDir);
  }

  /**
   * Write JSON atomically: a crash leaves the old file or the new one, never
   * half of one. `syncDir: false` skips the directory fsync when replacing a
   * file whose first version was already made durable (the journal between
   * steps): a power cut then leaves an older, still consistent journal.
   */
  writeJson(path: string, value: unknown, { syncDir = true }: { syncDir?: boolean } = {}): void {
    const tmp = `${path}.${ownPid()}.tmp`;
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

  /**
   * `rel` (a record path a journal names, already checked to be plain) under
   * the state directory; refused (an Error) when its directory resolves
   * elsewhere, through a symbolic link planted in the state directory.
   */
  inside(rel: string): string {
    const path = join(this.root, rel);
    let dir: string;
    try {
      dir = realpathSync(dirname(path));
    } catch {
      return path; // not there: a write fails by itself, a removal has nothing to remove
    }
    if (dir !== join(realpathSync(this.root), dirname(rel))) {
      throw new Error(`${dirname(path)} resolves to ${dir}, outside the state directory: not writing or removing ${rel}`);
    }
    return path;
  }

  remove(path: string): void {
    rmSync(path, { force: true });
  }

  /**
   * Read every JSON file of a directory; a file that does not parse, or that
   * `check` finds wrong (it says why; it is given the file's name), is
   * reported, not fatal, and not returned: nothing runs from it.
   */
  readAll<T>(dir: string, check: (v: unknown, name: string) => string | undefined): { items: T[]; bad: { file: string; error: string }[] } {
    const items: T[] = [];
    const bad: { file: string; error: string }[] = [];
    let names: string[] = [];
    // A symbolic link in the state directory would read files from elsewhere as ours.
    const st = lstatOrCode(dir);
    if (typeof st !== 'string' && st.isSymbolicLink()) {
      return { items, bad: [{ file: dir, error: 'is a symbolic link: not read' }] };
    }
    try { names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort(); } catch { /* no dir yet */ }
    for (const name of names) {
      const file = join(dir, name);
      try {
        const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
        const other = isObject(value) && value.schema !== SCHEMA && (typeof value.schema === 'number' || typeof value.schema === 'string');
        if (other) bad.push({ file, error: `written by a hostnic with state schema ${String(value.schema)}; this hostnic reads schema ${SCHEMA}` });
        else if (!isObject(value) || value.schema !== SCHEMA) bad.push({ file, error: 'not a hostnic state file of a schema this version knows' });
        else {
          const why = check(value, name);
          if (why === undefined) items.push(value as T);
          else bad.push({ file, error: `invalid: ${why}` });
        }
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
    for (const dir of [this.root, this.journalDir, this.attachDir, this.incompleteDir, this.dhcpDir]) {
      let names: string[];
      try { names = readdirSync(dir); } catch { continue; }
      for (const name of names) {
        const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
        if (pid && Number(pid) !== ownPid() && !existsSync(`/proc/${pid}`)) rmSync(join(dir, name), { force: true });
      }
    }
  }
}

const STATE_HINT = 'the state directory must be a root-owned directory, not writable by group or others (hostnic creates a missing one 0700): fix it, or choose another with --state-dir';

/** One directory of the state directory: created 0700 when missing, else checked and refused (UsageError) when unsafe or unusable. */
function checkStateDir(dir: string): void {
  const uid = process.getuid?.() ?? 0;
  const refuse = (why: string): UsageError => new UsageError(`state directory ${dir} ${why}: refusing to use it`, STATE_HINT);
  let st = lstatOrCode(dir);
  if (typeof st === 'string') {
    if (st === 'ENOTDIR') throw refuse('is under a file, not a directory');
    if (st !== 'ENOENT') throw refuse(`cannot be read (${st})`);
    try {
      // One level at a time (not `recursive`, whose errors can say ENOENT for EROFS), outermost first.
      const missing: string[] = [];
      for (let d = dir; lstatOrCode(d) === 'ENOENT' && d !== dirname(d); d = dirname(d)) missing.unshift(d);
      for (const d of missing) {
        try {
          mkdirSync(d, { mode: 0o700 });
        } catch (e) {
          // Another hostnic made it meanwhile (eight attaches started at once): checked below like any.
          const made = lstatOrCode(d);
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || typeof made === 'string' || !made.isDirectory()) throw e;
        }
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      if (code === 'ENOTDIR' || code === 'EEXIST') throw refuse('is under a file, not a directory');
      throw refuse(code === 'EROFS' ? 'cannot be created: the file system is read-only' : `cannot be created (${code})`);
    }
    st = lstatOrCode(dir);
    if (typeof st === 'string') throw refuse(`cannot be read after creating it (${st})`);
  }
  // Someone else's directory could hold records and journals planted to make us undo things that are not ours.
  if (st.isSymbolicLink()) throw refuse('is a symbolic link');
  if (!st.isDirectory()) throw refuse('is not a directory');
  if (st.uid !== uid) throw refuse(`is owned by uid ${st.uid}, not root`);
  if (st.mode & 0o022) throw refuse(`is writable by ${st.mode & 0o020 ? 'its group' : 'others'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw refuse(code === 'EROFS' ? 'is on a read-only file system' : `is not writable (${code})`);
  }
}

function lstatOrCode(path: string): Stats | string {
  try {
    return lstatSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
