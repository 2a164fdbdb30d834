/**
 * Write a whole configuration file, and put back exactly what was there.
 *
 * apply writes a temporary file next to the target (`install -D` makes it,
 * with its mode and any missing parent directory; `dd` fills it from the
 * command's input) and renames it over the target (`mv -T`),
 * so a reader sees the old file or the new one, never half of one. undo
 * writes the old content back the same way (owner and mode included), or
 * removes the file, and the directories apply made, when there was none.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Cmd } from '../exec.js';
import type { StepKind } from './types.js';

export interface FileWriteParams {
  /** Absolute path. */
  path: string;
  content: string;
  /** Octal permission bits, as `install -m` takes them: '0644'. */
  mode: string;
}

export interface FileWriteSaved {
  existed: boolean;
  /** The previous content, owner and mode (when it existed). */
  content?: string;
  mode?: string;
  uid?: number;
  gid?: number;
  /** Parent directories that did not exist, outermost first (apply creates them). */
  createdDirs: string[];
}

/** The temporary name apply writes before the rename (a dot file: no *.conf reader picks it up). */
export function tempPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.hostnic-tmp`);
}

function checkParams(p: FileWriteParams): void {
  if (!p.path.startsWith('/')) throw new Error(`file.write: path must be absolute: ${p.path}`);
  if (!/^[0-7]{3,4}$/.test(p.mode)) throw new Error(`file.write: mode must be octal like 0644: ${p.mode}`);
}

function writeCmds(path: string, content: string, mode: string, owner?: { uid: number; gid: number }): Cmd[] {
  const tmp = tempPathOf(path);
  const own = owner ? ['-o', String(owner.uid), '-g', String(owner.gid)] : [];
  return [
    // An empty file with the right mode and owner (and any missing parent directory)...
    { argv: ['install', '-D', '-m', mode, ...own, '/dev/null', tmp] },
    // ...filled from standard input (dd reads fd 0: it may be a socket, which /dev/stdin cannot open)
    // and flushed to disk before the rename, so a power cut never leaves an empty file under the real name...
    { argv: ['dd', `of=${tmp}`, 'conv=fsync', 'status=none'], input: content },
    // ...and renamed over the target in one step.
    { argv: ['mv', '-f', '-T', tmp, path] },
  ];
}

/** What undo will need: the old file, or which directories are missing. Synchronous reads only. */
export function captureFile(path: string): FileWriteSaved {
  const createdDirs: string[] = [];
  for (let d = dirname(path); d !== dirname(d); d = dirname(d)) {
    try {
      lstatSync(d);
      break;
    } catch {
      createdDirs.unshift(d);
    }
  }
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw new Error(`file.write: ${path} exists and is not a regular file`);
    return {
      existed: true,
      content: readFileSync(path, 'utf8'),
      mode: (st.mode & 0o7777).toString(8).padStart(4, '0'),
      uid: st.uid,
      gid: st.gid,
      createdDirs,
    };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { existed: false, createdDirs };
    throw e;
  }
}

export const fileWrite: StepKind<FileWriteParams, FileWriteSaved> = {
  capture: async (p) => {
    checkParams(p);
    return captureFile(p.path);
  },

  apply: (p) => {
    checkParams(p);
    return writeCmds(p.path, p.content, p.mode);
  },

  // Without a record (a journal from before capture ran) the file counts as
  // new: the paths hostnic writes are its own (90-hostnic.conf, ...).
  undo: (p, saved) => {
    const tmp = tempPathOf(p.path);
    if (saved?.existed && saved.content !== undefined) {
      const owner = saved.uid !== undefined && saved.gid !== undefined ? { uid: saved.uid, gid: saved.gid } : undefined;
      return writeCmds(p.path, saved.content, saved.mode ?? p.mode, owner);
    }
    const cmds: Cmd[] = [{ argv: ['rm', '-f', '--', tmp, p.path] }];
    for (const d of [...(saved?.createdDirs ?? [])].reverse()) {
      cmds.push({ argv: ['rmdir', '--', d], tolerate: /Directory not empty|No such file or directory/ });
    }
    return cmds;
  },

  watch: {
    subject: (p) => `file ${p.path}`,
    read: async (p) => {
      try {
        const st = lstatSync(p.path);
        return st.isFile() ? readFileSync(p.path, 'utf8') : `(not a regular file)`;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
      }
    },
    applied: (p) => p.content,
    undone: (_p, saved) => (saved?.existed ? (saved.content ?? undefined) : null),
    why: (p, now) => `${p.path} was ${now === null ? 'removed' : 'edited'} after hostnic wrote it: left as it is`,
  },
};
