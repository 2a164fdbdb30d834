/** hostnic status: every recorded attachment, verified against the kernel. */
import chalk from 'chalk';
import { addrs, isUp, links, type Link } from '../kernel/ip.js';
import { loadRecords, type AttachmentRecord } from '../records.js';
import { decodeTag } from '../tag.js';
import { targetAlive } from '../target/resolve.js';
import type { Ctx } from '../cli/context.js';

export type LiveStatus = 'in place' | 'drifted' | 'target gone';

export interface Live {
  status: LiveStatus;
  detail: string;
  /** Where the NIC is now. */
  where: 'container' | 'host' | 'gone';
  /** Its name there. */
  liveName?: string;
}

/** The link that carries this attachment's tag, in a list of links. */
export function findTagged(list: Link[], id: string): Link | undefined {
  return list.find((l) => decodeTag(l.ifalias)?.id === id);
}

export async function liveCheck(rec: AttachmentRecord): Promise<Live> {
  const { input } = rec;
  if (!targetAlive(input.target)) {
    const back = findTagged(await links(), rec.id);
    if (back) return { status: 'target gone', where: 'host', liveName: back.ifname, detail: `the namespace is gone; the NIC came back to the host as ${back.ifname}` };
    const virtual = input.host.kind !== undefined;
    return {
      status: 'target gone', where: 'gone',
      detail: virtual ? `the namespace is gone and the ${input.host.kind} NIC was destroyed with it` : 'the namespace is gone and the NIC is not in this namespace (look in the initial namespace)',
    };
  }
  const ctrLinks = await links(input.target.nsPath);
  const link = findTagged(ctrLinks, rec.id);
  if (!link) return { status: 'drifted', where: 'gone', detail: `${input.ctrName} is no longer in ${input.target.display}` };
  const problems: string[] = [];
  if (link.ifname !== input.ctrName) problems.push(`renamed to ${link.ifname}`);
  const mac = input.request.mac ?? input.host.mac;
  if ((link.address ?? '').toLowerCase() !== mac) problems.push(`MAC ${link.address} (expected ${mac})`);
  const mtu = input.request.mtu ?? input.host.mtu;
  if (link.mtu !== mtu) problems.push(`MTU ${link.mtu} (expected ${mtu})`);
  if (!isUp(link)) problems.push('down');
  const [withAddrs] = await addrs(input.target.nsPath, link.ifname);
  const have = new Set((withAddrs?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  for (const a of input.request.addresses) if (!have.has(a.cidr)) problems.push(`missing ${a.cidr}`);
  return problems.length
    ? { status: 'drifted', where: 'container', liveName: link.ifname, detail: problems.join(', ') }
    : { status: 'in place', where: 'container', liveName: link.ifname, detail: 'as attached' };
}

export async function statusCommand(ctx: Ctx): Promise<number> {
  const { records, bad } = loadRecords(ctx.state);
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
      where: live.where,
      ...(live.liveName ? { liveName: live.liveName } : {}),
      attachedAt: rec.createdAt,
    });
  }
  if (ctx.json) {
    ctx.emit({ attachments: rows, unreadable: bad });
    return 0;
  }
  for (const b of bad) process.stderr.write(`hostnic: ignoring ${b.file}: ${b.error}\n`);
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
