/**
 * The desired-state file on disk: where it is, whether it may be trusted
 * (sshd's StrictModes: it makes root move NICs, so only root may be able to
 * change it), and its entries. Every problem is a UsageError (exit 2)
 * naming the file (and the line, for what is in it).
 */
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { defaultHostPaths } from '../host/paths.js';
import { parseDesiredText, type Desired } from './parse.js';

export type { Desired, DesiredEntry } from './parse.js';
export { containerKey, parseDesiredText, selectorText } from './parse.js';

/** /etc/hostnic/attachments.yaml, under HOSTNIC_CONFIG_ROOT when set. */
export function defaultDesiredPath(env: NodeJS.ProcessEnv = process.env): string {
  return defaultHostPaths(env).desiredFile;
}

const HINT = 'the desired-state file and its directory must be root-owned and writable by root only (chown root:root; chmod 0644 the file, 0755 the directory)';

function lstatOrCode(path: string): Stats | string {
  try {
    return lstatSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** StrictModes: a symlink, another owner or a group/world-writable file or directory is refused. */
function checkTrusted(file: string, path: string, st: Stats, what: 'file' | 'directory'): void {
  const uid = process.getuid?.() ?? 0;
  const refuse = (why: string): never => {
    throw new UsageError(`${file}: ${what === 'file' ? 'the file' : `its directory ${path}`} ${why}: refusing to use it`, HINT);
  };
  if (st.isSymbolicLink()) refuse('is a symbolic link');
  if (what === 'file' ? !st.isFile() : !st.isDirectory()) refuse(`is not a ${what === 'file' ? 'regular file' : 'directory'}`);
  if (st.uid !== uid) refuse(`is owned by uid ${st.uid}, not root`);
  if (st.mode & 0o022) refuse(`is writable by ${st.mode & 0o020 ? 'its group' : 'others'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
}

/**
 * The file's text when it is there and trusted, null when it is not there
 * (its directory, if there, must be trusted too).
 */
export function readDesiredText(path: string): string | null {
  const dir = dirname(path);
  const dst = lstatOrCode(dir);
  if (typeof dst !== 'string') checkTrusted(path, dir, dst, 'directory');
  const st = lstatOrCode(path);
  if (st === 'ENOENT') return null;
  if (typeof st === 'string') throw new UsageError(`${path}: cannot be read (${st})`);
  checkTrusted(path, path, st, 'file');
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * Read, check and parse the desired-state file. A missing file is an error
 * (exit 2) unless `missingOk`: then it wants nothing.
 */
export function loadDesired(path: string, opts: { missingOk?: boolean } = {}): Desired {
  const text = readDesiredText(path);
  if (text === null) {
    if (opts.missingOk) return { path, entries: [] };
    throw new UsageError(`${path}: no such file`, 'write it (see `hostnic schema`), or attach with --persist, or name another with -f');
  }
  return parseDesiredText(text, path);
}
