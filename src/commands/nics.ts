/**
 * hostnic nics: every NIC of hostnic's namespace, and every NIC hostnic
 * attached to a container (from the state directory, checked live), with
 * its role, who manages it and its effective ARP settings.
 */
import chalk from 'chalk';
import { addrs, links } from '../kernel/ip.js';
import { arpFluxNics } from '../doctor/checks/arp-flux.js';
import { attachedNic, globalAddresses, listNics, nicJson, type NicDetail, type NicInfo } from '../host/inventory.js';
import { appliedLease, loadRecords, type AttachmentRecord } from '../records.js';
import { expectedMtu } from '../plan/attach.js';
import type { Ctx } from '../cli/context.js';
import { renderTable } from '../cli/table.js';
import { liveCheck } from '../observe/live.js';
import { findTagged } from '../observe/tagged.js';

/** A row for one attachment record, or null when its NIC is back in this namespace (listed there). */
async function attachedRow(rec: AttachmentRecord): Promise<NicDetail | null> {
  const { input } = rec;
  const base = {
    name: input.host.name,
    ifindex: input.host.ifindex,
    mac: input.request.mac ?? input.host.mac,
    permanentMac: input.host.permaddr,
    kind: input.host.kind,
    parentDev: input.host.parentdev,
    mtu: expectedMtu(input, appliedLease(rec)),
    container: input.target.display,
    ...(input.macvlan ? { name: input.ctrName, parent: input.macvlan.parent } : {}),
  };
  try {
    const live = await liveCheck(rec);
    if (live.where === 'host') return null;
    if (live.where !== 'container') return attachedNic(base);
    const link = findTagged(await links(input.target.nsPath), rec.id);
    if (!link) return attachedNic(base);
    const [la] = await addrs(input.target.nsPath, link.ifname);
    return attachedNic({ ...base, link, addresses: globalAddresses(la) });
  } catch {
    // The container went away while we looked: what the record says.
    return attachedNic(base);
  }
}

/** The rows of `hostnic nics`: this namespace's NICs in ifindex order, then the attached ones by name. */
export async function nicRows(ctx: Ctx): Promise<{ rows: NicDetail[]; unreadable: { file: string; error: string }[] }> {
  const { records, bad } = loadRecords(ctx.state);
  const here = await listNics();
  const attached: NicDetail[] = [];
  for (const rec of records) {
    const row = await attachedRow(rec);
    if (row) attached.push(row);
  }
  attached.sort((a, b) => a.name.localeCompare(b.name));
  return { rows: [...here, ...attached], unreadable: bad };
}

/** The table cells, and which of them are warnings. */
export function tableOf(rows: NicDetail[]): { header: string[]; cells: string[][]; warn: boolean[][]; notes: string[] } {
  const header = ['NAME', 'MAC', 'KIND', 'DRIVER', 'PCI', 'STATE', 'MTU', 'ADDRESSES', 'ROLE', 'MANAGED BY', 'ARP IGN/ANN'];
  const away = (r: NicDetail): boolean => r.role === 'attached' || r.role === 'macvlan-child';
  const flux = new Set(arpFluxNics(rows.filter((r) => !away(r))));
  const notes = new Set<string>();
  const cells: string[][] = [];
  const warn: boolean[][] = [];
  for (const r of rows) {
    const mac = r.mac ?? '-';
    const role = r.role === 'macvlan-child'
      ? `macvlan child of ${r.parent} in ${r.container}${r.containerIfname ? '' : ' (not found there)'}`
      : r.role === 'attached'
      ? `attached to ${r.container}${r.containerIfname ? ` as ${r.containerIfname}` : ' (not found there)'}`
      : r.role;
    const arp = away(r) ? '-' : `${r.arpIgnore ?? '?'}/${r.arpAnnounce ?? '?'}`;
    const arpLow = flux.has(r);
    const grabbed = r.role === 'secondary' && r.managedBy.length > 0;
    if (arpLow) notes.add('ARP flux possible: arp_ignore below 1 or arp_announce below 2 with several NICs');
    if (grabbed) notes.add('a manager would configure a secondary NIC');
    cells.push([
      r.name,
      r.permanentMac && r.permanentMac !== r.mac ? `${mac} (perm ${r.permanentMac})` : mac,
      r.kind,
      r.driver ?? '-',
      r.pci ?? '-',
      r.state,
      String(r.mtu),
      r.addresses.join(',') || '-',
      role,
      r.managedBy.join(',') || '-',
      arp,
    ]);
    warn.push([false, false, false, false, false, !away(r) && r.state === 'down', false, false, away(r) && !r.containerIfname, grabbed, arpLow]);
  }
  return { header, cells, warn, notes: [...notes] };
}

export async function nicsCommand(ctx: Ctx): Promise<number> {
  const { rows, unreadable } = await nicRows(ctx);
  if (ctx.json) {
    const doc: NicInfo[] = rows.map(nicJson);
    ctx.emit(doc);
    return 0;
  }
  for (const b of unreadable) process.stderr.write(`hostnic: ignoring ${b.file}: ${b.error}\n`);
  if (rows.length === 0) {
    ctx.say('no NICs (only lo) in this namespace, and none attached');
    return 0;
  }
  const { header, cells, warn, notes } = tableOf(rows);
  const [head, ...lines] = renderTable(header, cells, (cell, i, c) => {
    if (i < 0) return cell;
    if (warn[i]![c]) return chalk.yellow(cell);
    if (c === 8 && (rows[i]!.role === 'attached' || rows[i]!.role === 'macvlan-child')) return chalk.cyan(cell);
    if (c === 8 && rows[i]!.primary) return chalk.bold(cell);
    return cell;
  });
  ctx.say(chalk.bold(head!));
  for (const line of lines) ctx.say(line);
  if (notes.length) {
    ctx.say('');
    for (const n of notes) ctx.say(chalk.yellow(`! ${n}: see \`hostnic doctor\``));
  }
  return 0;
}
