/**
 * The DHCP client processes (busybox udhcpc) hostnic starts: where its event
 * script is, how the client is run, and how a running one is found and
 * stopped. A client is known by the lease file named in its environment
 * (HOSTNIC_DHCP_LEASE, which udhcpc passes to its event script): a reused
 * pid never has it, so only hostnic's own client for that lease is signalled.
 */
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { nsIdOf } from '../kernel/ip.js';

export const LEASE_ENV = 'HOSTNIC_DHCP_LEASE';

let script: string | undefined;
/** The event script shipped beside bin/hostnic (package.json `files`: bin/). */
export function scriptPath(): string {
  if (script) return script;
  const self = process.argv[1] ?? '';
  let dir = dirname(self);
  try {
    dir = dirname(realpathSync(self));
  } catch { /* as given */ }
  // The bundle runs from bin/hostnic (dist/ beside bin/); the script itself runs from bin/ too.
  script = join(dir.endsWith('/dist') ? join(dir, '..', 'bin') : dir, 'hostnic-dhcp');
  return script;
}

let client: string[] | undefined;
/** `udhcpc` (Debian's udhcpc package), else `busybox udhcpc`. */
export function clientArgv(): string[] {
  if (client) return client;
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  client = [...dirs, '/usr/sbin', '/sbin'].some((d) => d && existsSync(join(d, 'udhcpc'))) ? ['udhcpc'] : ['busybox', 'udhcpc'];
  return client;
}

/** The client's pid file beside its lease file (its pid in the container's pid namespace). */
export const pidFileOf = (lease: string): string => lease.replace(/\.json$/, '.pid');

/**
 * Why the last lease bound or renewed was not applied, beside the lease
 * file (`{ at, message }`): status shows it. The event script runs in the
 * background, where nobody reads its stderr; watch logs it as well.
 */
export const noteFileOf = (lease: string): string => lease.replace(/\.json$/, '.note');

export interface ClientProc {
  /** Host pid. */
  pid: number;
  /** Start time (/proc/PID/stat field 22): with the pid, who it is. */
  start: number;
  /** Its network namespace as Target.nsId names one (device:inode of /proc/PID/ns/net). */
  netnsId?: string;
  /** Its pid namespace is hostnic's own (it does not die with a container). */
  hostPidNs: boolean;
}

/**
 * /proc/PID/stat field 22, or undefined when it is gone. A zombie (state Z
 * or X) counts as gone: a client in a container's pid namespace is reaped by
 * the container's init, which often never reaps (a `sleep`, an app run
 * without --init), and it has done all it will do.
 */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/**
 * The udhcpc processes hostnic started for this lease file (normally one).
 * With `nsId` (the attachment's Target.nsId), only those in that network
 * namespace, where hostnic starts them: a process elsewhere that put the
 * lease file in its environment is not taken for the client (status and
 * watch's keeper ask so; stopping a lease's clients does not, since the
 * namespace a detach knows may be gone).
 */
export function clientsOf(lease: string, nsId?: string): ClientProc[] {
  const want = `${LEASE_ENV}=${lease}`;
  const own = nsIdOf('/proc/self/ns/pid');
  const out: ClientProc[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch { /* none */ }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const comm = readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (comm !== 'udhcpc' && comm !== 'busybox') continue;
      if (!readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').includes(want)) continue;
      const pid = Number(e);
      const start = startTime(pid);
      if (start === undefined) continue;
      const id = nsIdOf(`/proc/${e}/ns/net`);
      if (nsId !== undefined && id !== nsId) continue;
      out.push({ pid, start, ...(id !== undefined ? { netnsId: id } : {}), hostPidNs: nsIdOf(`/proc/${e}/ns/pid`) === own });
    } catch { /* gone, or a kernel thread */ }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Stop the clients of a lease file (with `nsId`, those clientsOf finds in
 * that namespace): SIGTERM (they run with -R: the lease is released first),
 * SIGKILL after `graceMs`. Returns once none is left. A process is signalled
 * only while its start time is the one found.
 */
export async function stopClients(lease: string, { graceMs = 3000, nsId }: { graceMs?: number; nsId?: string } = {}): Promise<number> {
  const found = clientsOf(lease, nsId);
  const alive = (c: ClientProc): boolean => startTime(c.pid) === c.start;
  const signal = (c: ClientProc, sig: NodeJS.Signals): void => {
    if (!alive(c)) return;
    try {
      process.kill(c.pid, sig);
    } catch { /* gone */ }
  };
  for (const c of found) signal(c, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (found.some(alive) && Date.now() < until) await sleep(20);
  for (const c of found) signal(c, 'SIGKILL');
  // SIGKILL is not refused; bounded all the same, so that no wait here can hang a plan.
  const killed = Date.now() + 2000;
  while (found.some(alive) && Date.now() < killed) await sleep(10);
  return found.length;
}
