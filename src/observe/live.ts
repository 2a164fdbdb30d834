/**
 * The live check of an attachment record: is its NIC where the record says,
 * as attach left it? If the container no longer has it while it runs: in
 * the host (moved out by hand), found by its tag, or gone. If the container
 * is gone: why, and where the NIC went (back in the host, destroyed, or
 * trapped in a namespace something holds). Read-only.
 */
import { describeHolders, findHolders, hasHolders, holderPath, nsIdInode, type Holders } from './holders.js';
import { isUp, links, readNs, type NsState, type LinkAddrs } from '../kernel/ip.js';
import { appliedLease, type AttachmentRecord } from '../records.js';
import { expectedMtu } from '../plan/attach.js';
import { targetAlive } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import { findTagged } from './tagged.js';

/** A container lookup older than this (the lock had to wait) is made again. */
export const STALE_AFTER_MS = 250;

/** 'untracked': a tagged NIC found without a record (status --scan, or a state file was unreadable). */
export type LiveStatus = 'in place' | 'drifted' | 'target gone' | 'untracked';

export interface Live {
  status: LiveStatus;
  detail: string;
  /** Where the NIC is now ('held': in the container's namespace, which outlived the container; 'host': back in the host, after the namespace died or moved out by hand). */
  where: 'container' | 'host' | 'gone' | 'held';
  /** Its name there. */
  liveName?: string;
  /** Why the target is gone, for scripts (set with status 'target gone'). */
  reason?: GoneReason;
  /** What keeps the namespace alive after the container's process is gone. */
  holders?: Holders;
  /** A path that reaches the namespace now, through a holder (where 'held'). */
  nsPath?: string;
}

export type GoneReason = 'container-restarted' | 'container-stopped' | 'container-removed' | 'namespace-gone' | 'namespace-held';

/**
 * The recorded namespace of a runtime's container is gone: ask the runtime
 * (by full id, so a new container with the same name is not mistaken for it)
 * what became of the container. Docker and a Podman socket answer over HTTP,
 * without starting a process.
 */
async function containerFate(rt: NonNullable<Target['runtime']>): Promise<{ reason: GoneReason; what: string }> {
  const { defaultRuntimes } = await import('../runtime/index.js');
  const runtime = defaultRuntimes().find((r) => r.name === rt.name);
  if (!runtime?.present()) return { reason: 'namespace-gone', what: `the namespace is gone (${rt.name} is not on this host to ask about the container)` };
  try {
    const found = (await runtime.find(rt.id, rt.namespace ? { namespace: rt.namespace } : {})).find((c) => c.id === rt.id);
    if (!found) return { reason: 'container-removed', what: 'container removed' };
    if (!found.running) return { reason: 'container-stopped', what: 'container stopped' };
    return { reason: 'container-restarted', what: 'container restarted (new namespace; the NIC is not in it)' };
  } catch (e) {
    return { reason: 'namespace-gone', what: `the namespace is gone (${rt.name} did not say what became of the container: ${e instanceof Error ? e.message : String(e)})` };
  }
}

/**
 * The container's process is gone but something still holds its namespace
 * (found by the inode kept in Target.nsId): the NIC is trapped there. Name
 * the holders, and reach the namespace through one of them.
 */
async function heldNamespace(rec: AttachmentRecord): Promise<Live | undefined> {
  const ino = nsIdInode(rec.input.target.nsId);
  const holders = ino === undefined ? undefined : findHolders(ino);
  if (!holders || !hasHolders(holders)) return undefined;
  const nsPath = holderPath(holders)!;
  const link = findTagged(await links(nsPath).catch(() => []), rec.id);
  // Namespace inode numbers are recycled: a namespace found by the old inode
  // without our NIC in it is most likely a new one (a restarted container's).
  // A namespace that really outlived the container still holds the NIC: a
  // live namespace does not lose it.
  if (!link) return undefined;
  const who = `the container's process is gone, but its namespace lives on, held by ${describeHolders(holders)}`;
  return { status: 'target gone', where: 'held', reason: 'namespace-held', liveName: link.ifname, nsPath, holders, detail: `${who}; the NIC is still inside as ${link.ifname}` };
}

/**
 * Reads of namespaces shared by the live checks of one command (one process
 * per namespace). Clear it once the command changed something.
 */
export class NsReads {
  private cache = new Map<string, Promise<NsState>>();
  get(ns: string): Promise<NsState> {
    let p = this.cache.get(ns);
    if (!p) this.cache.set(ns, (p = readNs(ns)));
    return p;
  }
  clear(): void {
    this.cache.clear();
  }
}

export async function liveCheck(rec: AttachmentRecord, reads: NsReads = new NsReads()): Promise<Live> {
  const { input } = rec;
  if (!targetAlive(input.target)) {
    const held = await heldNamespace(rec);
    if (held) return held;
    const back = findTagged(await links(), rec.id);
    const virtual = input.host.kind !== undefined;
    const runtime = input.target.runtime;
    const destroyed = input.macvlan
      ? `the macvlan child of ${input.macvlan.parent} is gone with its container (the kernel destroys it); apply/watch will recreate it at the next start`
      : `the ${input.host.kind} NIC was destroyed with the old namespace`;
    if (runtime) {
      const { reason, what } = await containerFate(runtime);
      const nic = back
        ? `the NIC came back to the host as ${back.ifname}`
        : virtual ? destroyed : 'the NIC is not in this namespace (look in the initial namespace)';
      return { status: 'target gone', where: back ? 'host' : 'gone', reason, detail: `${what}; ${nic}`, ...(back ? { liveName: back.ifname } : {}) };
    }
    if (back) return { status: 'target gone', where: 'host', liveName: back.ifname, reason: 'namespace-gone', detail: `the namespace is gone; the NIC came back to the host as ${back.ifname}` };
    return {
      status: 'target gone', where: 'gone', reason: 'namespace-gone',
      detail: input.macvlan ? `the namespace is gone; ${destroyed}`
        : virtual ? `the namespace is gone and the ${input.host.kind} NIC was destroyed with it` : 'the namespace is gone and the NIC is not in this namespace (look in the initial namespace)',
    };
  }
  const ctrLinks = (await reads.get(input.target.nsPath)).links;
  const link = findTagged(ctrLinks, rec.id) as LinkAddrs | undefined;
  if (!link) {
    // Moved out by hand while the container runs: back in the host, tagged (detach restores it there).
    const back = findTagged(await links(), rec.id);
    return back
      ? { status: 'drifted', where: 'host', liveName: back.ifname, detail: `${input.ctrName} is no longer in ${input.target.display}: it is in the host as ${back.ifname}` }
      : { status: 'drifted', where: 'gone', detail: `${input.ctrName} is no longer in ${input.target.display}` };
  }
  const problems: string[] = [];
  if (link.ifname !== input.ctrName) problems.push(`renamed to ${link.ifname}`);
  const mac = input.request.mac ?? input.host.mac;
  if ((link.address ?? '').toLowerCase() !== mac) problems.push(`MAC ${link.address} (expected ${mac})`);
  const mtu = expectedMtu(input, appliedLease(rec));
  if (link.mtu !== mtu) problems.push(`MTU ${link.mtu} (expected ${mtu})`);
  if (!isUp(link)) problems.push('down');
  const have = new Set(link.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
  for (const a of input.request.addresses) if (!have.has(a.cidr)) problems.push(`missing ${a.cidr}`);
  return problems.length
    ? { status: 'drifted', where: 'container', liveName: link.ifname, detail: problems.join(', ') }
    : { status: 'in place', where: 'container', liveName: link.ifname, detail: 'as attached' };
}

