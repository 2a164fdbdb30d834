/**
 * Who keeps a network namespace alive. A namespace lives as long as anything
 * refers to it: a process inside it, a process holding an open descriptor of
 * it, or an nsfs bind mount of it (`ip netns add`/`attach`, a runtime's
 * /run/docker/netns/..., a stray `mount --bind /proc/PID/ns/net ...`). When a
 * container's process is gone but its namespace is not, a NIC hostnic gave it
 * stays trapped there: these are the things the operator must stop or
 * unmount (or detach through).
 *
 * Found by the namespace's inode, which is what survives the container's
 * PID: /proc/PID/ns/net and /proc/PID/fd/N read as `net:[INODE]`, and an
 * nsfs bind mount shows `net:[INODE]` as its root in /proc/PID/mountinfo.
 * Read-only; a process that vanishes while we look is skipped.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ownPid } from '../state.js';

export interface Holders {
  /** Processes (or one of their threads) inside the namespace. */
  pids: { pid: number; comm: string }[];
  /** Processes holding an open descriptor of it: a path to it is /proc/PID/fd/FD. */
  fds: { pid: number; comm: string; fd: number }[];
  /**
   * Mount points of nsfs bind mounts of it. In a mount namespace other than
   * hostnic's, the path is given through that namespace's root:
   * /proc/PID/root/run/netns/x.
   */
  mounts: string[];
}

const numeric = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
};

const link = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

function comm(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The inode of a Target.nsId ("dev:ino"). */
export function nsIdInode(nsId: string): number | undefined {
  const ino = Number(nsId.split(':')[1]);
  return Number.isSafeInteger(ino) && ino > 0 ? ino : undefined;
}

/** The nsfs bind mounts of `want` in one mount table, with their propagation peer groups. */
function nsMounts(table: string, want: string): { point: string; groups: string[] }[] {
  const out: { point: string; groups: string[] }[] = [];
  for (const line of table.split('\n')) {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    const f = line.split(' ');
    if (f[3] !== want || f[4] === undefined) continue;
    const optional = f.slice(6, f.indexOf('-'));
    const groups = optional.flatMap((o) => (/^(shared|master):\d+$/.test(o) ? [o.split(':')[1]!] : []));
    out.push({ point: unescape(f[4]), groups });
  }
  return out;
}

export function findHolders(nsInode: number): Holders {
  const want = `net:[${nsInode}]`;
  const self = String(ownPid());
  const ownMnt = link('/proc/self/ns/mnt');
  const holders: Holders = { pids: [], fds: [], mounts: [] };
  const mounts = new Set<string>();
  // Our own mount table first. A copy of one of its mounts that propagation
  // put in another mount namespace (same peer group: shared:N here, shared:N
  // or master:N there) goes away with it: not a holder of its own.
  const ownGroups = new Set<string>();
  try {
    for (const m of nsMounts(readFileSync('/proc/self/mountinfo', 'utf8'), want)) {
      mounts.add(m.point);
      m.groups.forEach((g) => ownGroups.add(g));
    }
  } catch { /* no /proc/self/mountinfo: the loop below reads them all */ }
  const mountNamespaces = new Set<string>(ownMnt ? [ownMnt] : []);
  for (const pid of numeric('/proc')) {
    if (pid === self) continue;
    // Inside: the process, or any of its threads (a thread may have setns'd alone).
    const inside = link(`/proc/${pid}/ns/net`) === want
      || numeric(`/proc/${pid}/task`).some((tid) => tid !== pid && link(`/proc/${pid}/task/${tid}/ns/net`) === want);
    if (inside) holders.pids.push({ pid: Number(pid), comm: comm(pid) });
    for (const fd of numeric(`/proc/${pid}/fd`)) {
      if (link(`/proc/${pid}/fd/${fd}`) === want) holders.fds.push({ pid: Number(pid), comm: comm(pid), fd: Number(fd) });
    }
    // Bind mounts in other mount namespaces: read each one's table once.
    const mnt = link(`/proc/${pid}/ns/mnt`);
    if (!mnt || mountNamespaces.has(mnt)) continue;
    let table: string;
    try {
      table = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    mountNamespaces.add(mnt);
    for (const m of nsMounts(table, want)) {
      if (m.groups.some((g) => ownGroups.has(g))) continue;
      mounts.add(`/proc/${pid}/root${m.point}`);
    }
  }
  holders.mounts = [...mounts].sort();
  return holders;
}

export function hasHolders(h: Holders): boolean {
  return h.pids.length + h.fds.length + h.mounts.length > 0;
}

/** "mount /run/netns/x, process 123 (sleep), open descriptor 4 of process 77 (foo)" */
export function describeHolders(h: Holders): string {
  return [
    ...h.mounts.map((m) => `bind mount ${m}`),
    ...h.pids.map((p) => `process ${p.pid} (${p.comm})`),
    ...h.fds.map((p) => `descriptor ${p.fd} of process ${p.pid} (${p.comm})`),
  ].join(', ');
}

/** A path through which hostnic can still reach the namespace (to look inside, or detach through it). */
export function holderPath(h: Holders): string | undefined {
  return h.mounts[0] ?? (h.pids[0] ? `/proc/${h.pids[0].pid}/ns/net` : undefined)
    ?? (h.fds[0] ? `/proc/${h.fds[0].pid}/fd/${h.fds[0].fd}` : undefined);
}
