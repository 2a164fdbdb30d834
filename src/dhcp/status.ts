/** What `hostnic status` shows of an attachment's DHCP lease and client. Reads the lease file and /proc. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { appliedLease, type AttachmentRecord } from '../records.js';
import { printable } from '../request/text.js';
import { StateDir } from '../state.js';
import { readLease } from '../steps/dhcp.js';
import { clientsOf, noteFileOf } from './client.js';
import { expiry, ON_LINK, type DhcpLease } from './lease.js';

export interface DhcpView {
  /** The leased address, CIDR. */
  address: string;
  server?: string;
  router?: string;
  /** When the lease ends unless renewed (ISO 8601). */
  expires: string;
  /** Its client runs (renewing the lease). */
  running: boolean;
  /** Host pids of its client (normally one). */
  pids: number[];
  /** The client is in hostnic's pid namespace (the target shares it): it does not die with the container. */
  hostPidNs?: boolean;
  /** Why the last lease bound or renewed was not applied (the container keeps the one before), and when that was last tried. */
  notApplied?: { at: string; message: string };
}

const NOTE_MAX = 500;

/** One line of text, safe to print (a container names its own interfaces; stderr has many lines). */
const noteText = (s: string): string => printable(s.split('\n')[0] ?? '', NOTE_MAX);

/**
 * Keep (or, with no `why`, clear) why the lease just bound or renewed was
 * not applied (dhcp/client.ts noteFileOf). Kept only while the lease file is
 * there: a detach's `hostnic-dhcp stop` removes both, and a note written
 * after it would belong to nothing.
 */
export function noteRenewal(lease: string, why: string | undefined): void {
  const file = noteFileOf(lease);
  if (why === undefined) {
    rmSync(file, { force: true });
    return;
  }
  if (!existsSync(lease)) return;
  new StateDir(dirname(dirname(lease))).writeJson(file, { at: new Date().toISOString(), message: noteText(why) }, { syncDir: false });
}

/** The note, if there is one that reads as one (it is shown, never acted on). */
export function readNote(lease: string): DhcpView['notApplied'] {
  try {
    const v = JSON.parse(readFileSync(noteFileOf(lease), 'utf8')) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const { at, message } = v as Record<string, unknown>;
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at)) || typeof message !== 'string') return undefined;
    return { at, message: noteText(message) };
  } catch {
    return undefined;
  }
}

export function dhcpView(rec: AttachmentRecord): DhcpView | undefined {
  const path = rec.input.dhcp?.lease;
  if (!path) return undefined;
  let lease: DhcpLease | undefined;
  try {
    lease = readLease(path); // the current lease: renewals rewrite it
  } catch {
    lease = appliedLease(rec);
  }
  const clients = clientsOf(path, rec.input.target.nsId);
  const note = readNote(path);
  return {
    address: lease ? `${lease.ip}/${lease.prefix}` : '-',
    ...(lease?.server ? { server: lease.server } : {}),
    ...(lease?.router ? { router: lease.router } : {}),
    expires: lease ? new Date(expiry(lease) * 1000).toISOString() : '-',
    running: clients.length > 0,
    pids: clients.map((c) => c.pid),
    ...(clients.some((c) => c.hostPidNs) ? { hostPidNs: true } : {}),
    ...(note ? { notApplied: note } : {}),
  };
}

/** One line for the text report. */
export function dhcpLine(v: DhcpView, targetLives: boolean): string {
  const client = v.running
    ? `client running (pid ${v.pids.join(', ')})${targetLives ? '' : ': its container is gone; hostnic detach (or watch) ends it'}`
    : 'client not running';
  const router = v.router === ON_LINK ? ', default route on the link' : v.router ? `, router ${v.router}` : '';
  const note = v.notApplied ? `; a new lease was not applied (last tried ${v.notApplied.at}): ${v.notApplied.message}` : '';
  return `dhcp: ${v.address}${v.server ? ` from ${v.server}` : ''}${router}, expires ${v.expires}; ${client}${note}`;
}
