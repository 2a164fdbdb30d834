/** hostnic status: every recorded attachment, verified against the kernel. */
import chalk from 'chalk';
import { liveCheck, type LiveStatus } from '../observe/live.js';
import { scanTagged } from '../observe/tagged.js';
import { clearHint, loadIncomplete } from '../incomplete.js';
import { loadRecords } from '../records.js';
import { hostnicAlive, unfinishedPlans } from '../runner.js';
import type { Ctx } from '../cli/context.js';
import { renderTable } from '../cli/table.js';
import { waitingEntries } from '../desired/waiting.js';
import { dhcpLine, dhcpView, type DhcpView } from '../dhcp/status.js';

export async function statusCommand(ctx: Ctx, opts: { scan?: boolean } = {}): Promise<number> {
  const { records, bad: badRecords } = loadRecords(ctx.state);
  // Plans in flight or left by a dead hostnic, and state files that cannot be read.
  const plans = unfinishedPlans(ctx.state);
  // Detaches that brought a NIC home without all of its host settings: kept until a person clears them.
  const { notes: incomplete, bad: badNotes } = loadIncomplete(ctx.state);
  const bad = [...badRecords, ...plans.bad, ...badNotes];
  const unfinished = plans.journals.map((j) => ({
    id: j.id, title: j.title, pid: j.pid, startedAt: j.startedAt, running: hostnicAlive(j),
  }));
  const rows = [];
  for (const rec of records) {
    const live = await liveCheck(rec);
    const i = rec.input;
    const dhcp: DhcpView | undefined = dhcpView(rec);
    rows.push({
      id: rec.id,
      target: i.target.display,
      nic: i.host.name,
      ...(i.macvlan ? { macvlan: i.macvlan } : {}),
      name: i.ctrName,
      mac: i.request.mac ?? i.host.mac,
      addresses: i.request.addresses.map((a) => a.cidr),
      status: live.status,
      detail: live.detail,
      ...(live.reason ? { reason: live.reason } : {}),
      where: live.where,
      ...(live.liveName ? { liveName: live.liveName } : {}),
      ...(live.holders ? { holders: live.holders } : {}),
      ...(rec.cni ? { cni: { containerId: rec.cni.containerId, network: rec.cni.network, ifname: rec.cni.ifname } } : {}),
      ...(dhcp ? { dhcp } : {}),
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
  // Entries of the desired-state file that are not attached, and why.
  const desired = await waitingEntries(records);
  if (ctx.json) {
    ctx.emit({ attachments: rows, unfinished, incomplete, unreadable: bad, desired });
    return 0;
  }
  if (desired.error) process.stderr.write(`hostnic: warning: ${desired.error}\n`);
  const waitingLines = desired.waiting.map((w) => `waiting: ${w.container} ${w.nic} (${desired.path}:${w.line}): ${w.detail}`);
  for (const b of bad) process.stderr.write(`hostnic: ignoring ${b.file}: ${b.error}\n`);
  for (const u of unfinished) {
    process.stderr.write(u.running
      ? `hostnic: in progress: plan ${u.id}: ${u.title} (pid ${u.pid})\n`
      : `hostnic: unfinished plan ${u.id}: ${u.title} (left by pid ${u.pid} at ${u.startedAt}); run \`hostnic recover\``
        + ` (or, if you settled it by hand, \`hostnic recover --abandon ${u.id}\`)\n`);
  }
  for (const n of incomplete) {
    process.stderr.write(`hostnic: incomplete restore ${n.id}: ${n.nic} came back from ${n.target} at ${n.createdAt}, but ${n.notDone.length} host setting(s) were not restored; to finish by hand:\n`);
    for (const l of n.notDone) {
      process.stderr.write(`  - ${l.title}: ${l.error.split('\n')[0]}\n`);
      for (const c of l.commands) process.stderr.write(`${c.split('\n').map((line) => `      ${line}`).join('\n')}\n`);
    }
    process.stderr.write(`  ${clearHint(n.id)}\n`);
  }
  if (rows.length === 0) {
    ctx.say('nothing attached');
    for (const l of waitingLines) ctx.say(l);
    return 0;
  }
  const colour = (s: string) => (s === 'in place' ? chalk.green(s) : s === 'drifted' ? chalk.yellow(s) : chalk.red(s));
  const [head, ...lines] = renderTable(
    ['TARGET', 'NIC', 'AS', 'MAC', 'ADDRESSES', 'STATUS'],
    rows.map((r) => [r.target, 'macvlan' in r && r.macvlan ? `${r.nic} (macvlan child)` : r.nic, r.name, r.mac, [...('dhcp' in r && r.dhcp ? ['dhcp'] : []), ...r.addresses].join(',') || '-', r.status]),
    (cell, row, col) => (row >= 0 && col === 5 ? colour(cell) : cell),
  );
  ctx.say(head!);
  rows.forEach((r, n) => {
    ctx.say(lines[n]! + (r.status === 'in place' ? '' : chalk.dim(`  (${r.detail})`)));
    if ('dhcp' in r && r.dhcp) ctx.say(chalk.dim(`  ${dhcpLine(r.dhcp, r.status !== 'target gone')}`));
  });
  for (const l of waitingLines) ctx.say(l);
  return 0;
}
