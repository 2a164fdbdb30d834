/**
 * Processes and namespaces as data, read from procfs (no `ps`).
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  /** /proc/PID/comm (the kernel truncates it to 15 characters). */
  comm: string;
  argv: string[];
  /** Inode of its network namespace; undefined when unreadable. */
  netnsIno?: number;
}

/** Every process we can read. */
export function listProcesses(procRoot = '/proc'): ProcInfo[] {
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const dir = `${procRoot}/${e}`;
    let argv: string[];
    let comm = '';
    try {
      argv = readFileSync(`${dir}/cmdline`, 'utf8').split('\0');
      while (argv.length && argv[argv.length - 1] === '') argv.pop();
    } catch {
      continue; // gone
    }
    try {
      comm = readFileSync(`${dir}/comm`, 'utf8').trim();
    } catch {
      /* keep '' */
    }
    const info: ProcInfo = { pid: Number(e), comm, argv };
    const ino = nsLinkIno(`${dir}/ns/net`);
    if (ino !== undefined) info.netnsIno = ino;
    out.push(info);
  }
  return out;
}

function nsLinkIno(path: string): number | undefined {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync(path));
    if (m) return Number(m[1]);
  } catch {
    /* fall through */
  }
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Inode of a network namespace file (/run/netns/x, /proc/PID/ns/net); undefined when unreadable. */
export function netnsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/**
 * The namespace that inspection looks at: `netns` when given, else hostnic's
 * own. Undefined when it cannot be told (a fake procfs in unit tests): then
 * processes are not filtered by namespace.
 */
export function targetNetnsInode(netns: string | undefined, procRoot = '/proc'): number | undefined {
  return netnsInode(netns ?? `${procRoot}/self/ns/net`);
}

/** Processes in the target namespace (all of them when either side is unknown). */
export function inNamespace(procs: ProcInfo[], ino: number | undefined): ProcInfo[] {
  if (ino === undefined) return procs;
  return procs.filter((p) => p.netnsIno === undefined || p.netnsIno === ino);
}

/** The program name of a process: basename of argv[0] (which a daemon may have rewritten), else comm. */
export function programOf(p: ProcInfo): string {
  const a0 = (p.argv[0] ?? '').split(/\s/)[0] ?? '';
  const base = a0.split('/').pop() ?? '';
  return (base.replace(/:$/, '') || p.comm).trim();
}
