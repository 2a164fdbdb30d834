/** hostnic status: every recorded attachment, verified against the kernel. */
import chalk from 'chalk';
import { describeHolders, findHolders, hasHolders, holderPath, nsIdInode, type Holders } from '../holders.js';
import { isUp, links, type Link, readNs, type NsState, type LinkAddrs } from '../kernel/ip.js';
import { readdirSync, readlinkSync } from 'node:fs';
import { loadRecords, type AttachmentRecord } from '../records.js';
import { hostnicAlive, unfinishedPlans } from '../runner.js';
import { decodeTag, type Tag } from '../tag.js';
import { targetAlive } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import type { Ctx } from '../cli/context.js';

/** 'untracked': a tagged NIC found without a record (status --scan, or a state file was unreadable). */
export type LiveStatus = 'in place' | 'drifted' | 'target gone' | 'untracked';

export interface Live {
  status: LiveStatus;
  detail: string;
  /** Where the NIC is now ('held': in the container's namespace, which outlived the container). */
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

/** The link that carries this attachment's tag, in a list of links. */
export function findTagged(list: Link[], id: string): Link | undefined {
  return list.find((l) => decodeTag(l.ifalias)?.id === id);
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
    if (runtime) {
      const { reason, what } = await containerFate(runtime);
      const nic = back
        ? `the NIC came back to the host as ${back.ifname}`
        : virtual ? `the ${input.host.kind} NIC was destroyed with the old namespace` : 'the NIC is not in this namespace (look in the initial namespace)';
      return { status: 'target gone', where: back ? 'host' : 'gone', reason, detail: `${what}; ${nic}`, ...(back ? { liveName: back.ifname } : {}) };
    }
    if (back) return { status: 'target gone', where: 'host', liveName: back.ifname, reason: 'namespace-gone', detail: `the namespace is gone; the NIC came back to the host as ${back.ifname}` };
    return {
      status: 'target gone', where: 'gone', reason: 'namespace-gone',
      detail: virtual ? `the namespace is gone and the ${input.host.kind} NIC was destroyed with it` : 'the namespace is gone and the NIC is not in this namespace (look in the initial namespace)',
    };
  }
  const ctrLinks = (await reads.get(input.target.nsPath)).links;
  const link = findTagged(ctrLinks, rec.id) as LinkAddrs | undefined;
  if (!link) return { status: 'drifted', where: 'gone', detail: `${input.ctrName} is no longer in ${input.target.display}` };
  const problems: string[] = [];
  if (link.ifname !== input.ctrName) problems.push(`renamed to ${link.ifname}`);
  const mac = input.request.mac ?? input.host.mac;
  if ((link.address ?? '').toLowerCase() !== mac) problems.push(`MAC ${link.address} (expected ${mac})`);
  const mtu = input.request.mtu ?? input.host.mtu;
  if (link.mtu !== mtu) problems.push(`MTU ${link.mtu} (expected ${mtu})`);
  if (!isUp(link)) problems.push('down');
  const have = new Set(link.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
  for (const a of input.request.addresses) if (!have.has(a.cidr)) problems.push(`missing ${a.cidr}`);
  return problems.length
    ? { status: 'drifted', where: 'container', liveName: link.ifname, detail: problems.join(', ') }
    : { status: 'in place', where: 'container', liveName: link.ifname, detail: 'as attached' };
}

/**
 * NICs that carry a hostnic tag in some namespace of this host but have no
 * record (the state directory was lost or a file is unreadable): every
 * namespace that a process is in is looked at once, by its inode.
 */
export async function scanTagged(known: Set<string>): Promise<{ pid: number; link: LinkAddrs; tag: Tag }[]> {
  const own = readlinkSync('/proc/self/ns/net');
  const byNs = new Map<string, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ns = readlinkSync(`/proc/${name}/ns/net`);
      if (ns !== own && !byNs.has(ns)) byNs.set(ns, Number(name));
    } catch { /* gone, or a kernel thread */ }
  }
  const found: { pid: number; link: LinkAddrs; tag: Tag }[] = [];
  const pids = [...byNs.values()];
  for (let i = 0; i < pids.length; i += 8) {
    await Promise.all(pids.slice(i, i + 8).map(async (pid) => {
      const state = await readNs(`/proc/${pid}/ns/net`).catch(() => undefined);
      for (const link of state?.links ?? []) {
        const tag = decodeTag(link.ifalias);
        if (tag && !known.has(tag.id)) found.push({ pid, link, tag });
      }
    }));
  }
  return found;
}

export async function statusCommand(ctx: Ctx, opts: { scan?: boolean } = {}): Promise<number> {
  const { records, bad: badRecords } = loadRecords(ctx.state);
  // Plans in flight or left by a dead hostnic, and state files that cannot be read.
  const plans = unfinishedPlans(ctx.state);
  const bad = [...badRecords, ...plans.bad];
  const unfinished = plans.journals.map((j) => ({
    id: j.id, title: j.title, pid: j.pid, startedAt: j.startedAt, running: hostnicAlive(j),
  }));
  const rows = [];
  for (const rec of records) {
    const live = await liveCheck(rec);
    const i = rec.input;
    rows.push({
      id: rec.id,
      target: i.target.display,
      nic: i.host.name,
      name: i.ctrName,
      mac: i.request.mac ?? i.host.mac,
      addresses: i.request.addresses.map((a) => a.cidr),
      status: live.status,
      detail: live.detail,
      ...(live.reason ? { reason: live.reason } : {}),
      where: live.where,
      ...(live.liveName ? { liveName: live.liveName } : {}),
      ...(live.holders ? { holders: live.holders } : {}),
      attachedAt: rec.createdAt,
    });
  }
  // Without a complete state directory, the tags on the NICs still tell.
  if (opts.scan || bad.length > 0) {
    for (const { pid, link, tag } of await scanTagged(new Set(records.map((r) => r.id)))) {
      rows.push({
        id: tag.id,
        target: `pid:${pid}`,
        nic: tag.name,
        name: link.ifname,
        mac: (link.address ?? '').toLowerCase(),
        addresses: link.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
        status: 'untracked' as LiveStatus,
        detail: `no record; found by its tag in the namespace of pid ${pid} (hostnic detach pid:${pid} brings it home)`,
        where: 'container',
        liveName: link.ifname,
        attachedAt: '',
      });
    }
  }
  if (ctx.json) {
    ctx.emit({ attachments: rows, unfinished, unreadable: bad });
    return 0;
  }
  for (const b of bad) process.stderr.write(`hostnic: ignoring ${b.file}: ${b.error}\n`);
  for (const u of unfinished) {
    process.stderr.write(u.running
      ? `hostnic: in progress: ${u.title} (pid ${u.pid})\n`
      : `hostnic: unfinished plan: ${u.title} (left by pid ${u.pid} at ${u.startedAt}); run \`hostnic recover\`\n`);
  }
  if (rows.length === 0) {
    ctx.say('nothing attached');
    return 0;
  }
  const colour = (s: LiveStatus) => (s === 'in place' ? chalk.green(s) : s === 'drifted' ? chalk.yellow(s) : chalk.red(s));
  const header = ['TARGET', 'NIC', 'AS', 'MAC', 'ADDRESSES', 'STATUS'];
  const table = rows.map((r) => [r.target, r.nic, r.name, r.mac, r.addresses.join(',') || '-', r.status]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((t) => t[c]!.length)));
  ctx.say(header.map((h, c) => h.padEnd(widths[c]!)).join('  '));
  rows.forEach((r, n) => {
    const cells = table[n]!.map((t, c) => (c === 5 ? colour(r.status) : t.padEnd(widths[c]!)));
    ctx.say(cells.join('  ') + (r.status === 'in place' ? '' : chalk.dim(`  (${r.detail})`)));
  });
  return 0;
}
