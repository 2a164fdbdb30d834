/** What `hostnic status` shows of an attachment's DHCP lease and client. Reads the lease file and /proc. */
import type { AttachmentRecord } from '../records.js';
import { readLease } from '../steps/dhcp.js';
import { clientsOf } from './client.js';
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
}

export function dhcpView(rec: AttachmentRecord): DhcpView | undefined {
  const path = rec.input.dhcp?.lease;
  if (!path) return undefined;
  let lease: DhcpLease | undefined;
  try {
    lease = readLease(path); // the current lease: renewals rewrite it
  } catch {
    lease = rec.saved['ctr.dhcp'] as DhcpLease | undefined;
  }
  const clients = clientsOf(path, rec.input.target.nsId);
  return {
    address: lease ? `${lease.ip}/${lease.prefix}` : '-',
    ...(lease?.server ? { server: lease.server } : {}),
    ...(lease?.router ? { router: lease.router } : {}),
    expires: lease ? new Date(expiry(lease) * 1000).toISOString() : '-',
    running: clients.length > 0,
    pids: clients.map((c) => c.pid),
    ...(clients.some((c) => c.hostPidNs) ? { hostPidNs: true } : {}),
  };
}

/** One line for the text report. */
export function dhcpLine(v: DhcpView, targetLives: boolean): string {
  const client = v.running
    ? `client running (pid ${v.pids.join(', ')})${targetLives ? '' : ': its container is gone; hostnic detach (or watch) ends it'}`
    : 'client not running';
  const router = v.router === ON_LINK ? ', default route on the link' : v.router ? `, router ${v.router}` : '';
  return `dhcp: ${v.address}${v.server ? ` from ${v.server}` : ''}${router}, expires ${v.expires}; ${client}`;
}
