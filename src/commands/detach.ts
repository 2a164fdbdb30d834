/** hostnic detach <container> [<nic>]: give NICs back to the host, exactly as they were. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HostnicError, UsageError } from '../errors.js';
import { addrs, defaultRoutes, type Route } from '../kernel/ip.js';
import { describeSelector } from '../observe.js';
import { choosePath, planAttach, type AttachInput } from '../plan/attach.js';
import type { SetParams } from '../steps/link.js';
import { planDetach } from '../plan/detach.js';
import { loadRecords, recordPath, type AttachmentRecord } from '../records.js';
import { nsKey, warmRenderer, type DryRunPlan, type Plan } from '../runner.js';
import { invert } from '../steps/index.js';
import type { StepSpec } from '../steps/types.js';
import { parseNicSelector, parseTarget } from '../request/parse.js';
import type { AttachRequest, NicSelector, TargetSpec } from '../request/types.js';
import { SCHEMA } from '../state.js';
import { decodeTag, type Tag } from '../tag.js';
import { describeTarget, resolveTarget, targetAlive } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import { executePlan } from '../cli/execute.js';
import type { Ctx } from '../cli/context.js';
import { recordMatches } from './attach.js';
import { liveCheck, NsReads } from './status.js';

/**
 * Does a record belong to the container the user named? With the container
 * resolved: the records of its namespace, and the records of a namespace that
 * is gone which were made for the same container (same runtime id: it was
 * restarted, so it has a new namespace) or under the same name; detach then
 * forgets them, or restores a physical NIC that came back. Unresolved (the
 * container is gone or stopped): by how the user named it.
 */
function recordForSpec(r: AttachmentRecord, spec: TargetSpec, target?: Target): boolean {
  const t = r.input.target;
  if (target) {
    if (t.nsId === target.nsId) return true;
    if (targetAlive(t)) return false;
    const a = t.runtime;
    const b = target.runtime;
    if (a && b && a.name === b.name && a.id === b.id && a.namespace === b.namespace) return true;
  }
  if (t.display === describeTarget(spec)) return true;
  switch (spec.kind) {
    case 'pid': return t.pid === spec.pid;
    case 'path': return t.nsPath === spec.path;
    case 'netns': return t.nsPath === `/run/netns/${spec.name}`;
    default: {
      const ref = spec.kind === 'name' ? spec.name : spec.ref;
      const rt = t.runtime;
      if (!rt) return false;
      if (spec.kind !== 'name' && spec.kind !== rt.name) return false;
      if (spec.kind === 'containerd' && spec.namespace !== undefined && spec.namespace !== rt.namespace) return false;
      return rt.containerName === ref || (ref.length >= 4 && rt.id.startsWith(ref));
    }
  }
}

/**
 * A record rebuilt from the tag on a NIC, for when the state directory is
 * gone. It knows the host identity; host addresses and routes are not in the
 * tag, so they cannot come back (the state file has them).
 */
async function recordFromTag(link: { ifname: string; address?: string; mtu?: number; ifalias?: string }, tag: Tag, target: Target): Promise<AttachmentRecord> {
  const [withAddrs] = await addrs(target.nsPath, link.ifname);
  const defaults: Record<4 | 6, Route[]> = { 4: await defaultRoutes(target.nsPath, 4), 6: await defaultRoutes(target.nsPath, 6) };
  const addresses: AttachRequest['addresses'] = (withAddrs?.addr_info ?? [])
    .filter((a) => a.scope !== 'link')
    .map((a) => {
      const family = a.family === 'inet' ? 4 : 6;
      const viaUs = defaults[family].find((r) => r.dev === link.ifname && r.gateway);
      return { family, address: a.local, prefix: a.prefixlen, cidr: `${a.local}/${a.prefixlen}`, ...(viaUs ? { gateway: viaUs.gateway } : {}) };
    });
  // Only one gateway per family.
  for (const f of [4, 6]) addresses.filter((a) => a.family === f && a.gateway).slice(1).forEach((a) => delete a.gateway);
  const mac = (link.address ?? '').toLowerCase();
  const request: AttachRequest = {
    target: { kind: 'path', path: target.nsPath }, nic: { kind: 'name', name: tag.name }, addresses, routes: [], force: false,
    ...(mac !== tag.mac ? { mac } : {}),
    ...(link.mtu !== undefined && link.mtu !== tag.mtu ? { mtu: link.mtu } : {}),
  };
  const input: AttachInput = {
    // The tag as it is: a rollback of this detach puts it back.
    id: tag.id, request, target, ctrName: link.ifname, tmpNs: `hostnic-${tag.id}`, tag: link.ifalias ?? '',
    host: { name: tag.name, ifindex: 0, mac: tag.mac, mtu: tag.mtu, up: tag.up, ...(tag.alias ? { alias: tag.alias } : {}), addrs: [], routes: [], sysctls: [] },
  };
  const steps = planAttach(input);
  const gw = (g?: string): Route[] => {
    if (!g) return [];
    const at = g.lastIndexOf('@');
    const gateway = g.slice(0, at);
    // `pref` marks an IPv6 route, as in `ip -json route` (kernel/ip.ts readNs).
    return [{ dst: 'default', gateway, dev: g.slice(at + 1), ...(gateway.includes(':') ? { pref: 'medium' } : {}) }];
  };
  const saved = steps.map((s) => {
    if (s.kind !== 'route.default') return null;
    return gw((s.params as { family: 4 | 6 }).family === 4 ? tag.gw4 : tag.gw6);
  });
  return { schema: SCHEMA, kind: 'attachment', id: tag.id, createdAt: '', input, saved };
}

/**
 * The container's namespace is gone but a physical NIC came back to the
 * host (maybe as devN): rename it and restore its host settings.
 */
function planReturned(rec: AttachmentRecord, liveName: string): StepSpec[] {
  const steps = planAttach({ ...rec.input, ctrName: liveName }).map((s, i) => ({ ...s, saved: rec.saved[i] ?? undefined }));
  // The rename happened in the container or the private namespace; the NIC is in the host now.
  const rename = steps.find((s) => s.kind === 'link.set' && (s.params as SetParams).to.name !== undefined)!;
  const inHost: StepSpec = { ...rename, params: { ...(rename.params as SetParams), ns: null } };
  // The host-side steps: everything before the NIC left the host, but the private namespace.
  const hostSide = steps.slice(0, steps.findIndex((s) => s.kind === 'link.move')).filter((s) => s.kind !== 'netns.add');
  return [invert(inHost), ...hostSide.reverse().map(invert)];
}

export async function detachCommand(args: { container: string; nic?: string }, ctx: Ctx): Promise<number> {
  const spec = parseTarget(args.container);
  // An empty NIC (an unset shell variable) is an error, not "every NIC".
  const sel: NicSelector | undefined = args.nic !== undefined ? parseNicSelector(args.nic) : undefined;
  // The container is looked up while listr2 loads (both only read); it may be gone.
  const early = resolveTarget(spec).catch((e: unknown) => {
    if (e instanceof HostnicError) return undefined;
    throw e;
  });
  early.catch(() => undefined); // reported below
  warmRenderer(ctx.renderer);
  const reads = new NsReads(); // one read per namespace until something changes
  const target = await early;
  const { records } = loadRecords(ctx.state);
  const mine = records.filter((r) => recordForSpec(r, spec, target));
  // NICs tagged by hostnic in the container but without a record (state directory lost).
  if (target) {
    for (const l of (await reads.get(target.nsPath)).links) {
      const tag = decodeTag(l.ifalias);
      if (tag && !mine.some((r) => r.id === tag.id)) mine.push(await recordFromTag(l, tag, target));
    }
  }
  const chosen: AttachmentRecord[] = [];
  for (const r of mine) {
    // A name may also be the one the NIC has now, if it was renamed inside the container.
    if (!sel || recordMatches(r, sel) || (sel.kind === 'name' && (await liveCheck(r, reads)).liveName === sel.name)) chosen.push(r);
  }
  const who = target?.display ?? describeTarget(spec);
  if (chosen.length === 0) {
    if (!target && mine.length === 0) throw new UsageError(`no container ${describeTarget(spec)} and nothing hostnic attached to it`);
    throw new UsageError(`nothing hostnic attached to ${who}${sel ? ` matches ${describeSelector(sel)}` : ''}`);
  }
  let exit = 0;
  const results: DetachResult[] = [];
  for (const rec of chosen) {
    const result = await detachOne(rec, ctx, reads).finally(() => ctx.locks.release());
    reads.clear(); // that detach changed the namespaces
    results.push(result);
    exit = Math.max(exit, result.exitCode);
    if (result.exitCode !== 0) break;
  }
  if (ctx.json) {
    ctx.emit(ctx.dryRun
      ? { dryRun: true, plans: results.map((r) => r.plan) }
      : { ok: exit === 0, exitCode: exit, detached: results.map(({ plan: _p, ...r }) => r) });
  }
  return exit;
}

interface DetachResult {
  exitCode: number;
  id: string;
  nic: string;
  target: string;
  where: string;
  detail: string;
  error?: string;
  plan?: DryRunPlan;
}

async function detachOne(rec: AttachmentRecord, ctx: Ctx, reads: NsReads): Promise<DetachResult> {
  const i = rec.input;
  if (!ctx.dryRun) {
    // The NIC, and the namespace it would go back to if the detach is rolled back.
    if ((await ctx.locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId)])).waited) reads.clear();
    // Under the locks: another hostnic may have detached it meanwhile (a record rebuilt from a tag has no file).
    if (rec.createdAt !== '' && !existsSync(join(ctx.state.root, recordPath(rec.id)))) {
      ctx.say(`${i.host.name}: detached meanwhile by another hostnic`);
      return { exitCode: 0, id: rec.id, nic: i.host.name, target: i.target.display, where: 'gone', detail: 'detached meanwhile by another hostnic' };
    }
  }
  const live = await liveCheck(rec, reads);
  const id = randomBytes(4).toString('hex');
  let steps: StepSpec[];
  let title: string;
  if (live.where === 'container' || live.where === 'held') {
    // Held: the container's process is gone but its namespace is not; reach it through a holder.
    const input = live.nsPath ? { ...i, target: { ...i.target, nsPath: live.nsPath } } : i;
    const ctrName = live.liveName ?? i.ctrName;
    const path = choosePath(i.host.name, (await reads.get(input.target.nsPath)).links, ctrName);
    steps = planDetach(input, rec.saved, { ctrName, tmpNs: `hostnic-${id}`, path });
    title = `Detach ${ctrName} from ${i.target.display}, back to the host as ${i.host.name}`;
  } else if (live.where === 'host') {
    steps = planReturned(rec, live.liveName!);
    title = `Restore ${live.liveName} (back from ${i.target.display}) as ${i.host.name}`;
  } else {
    steps = [];
    title = `Forget ${i.host.name} (${live.detail})`;
  }
  const plan: Plan = {
    id, command: 'detach', title, steps, touches: [i.host.name, i.host.mac],
    finalize: { remove: [recordPath(rec.id)] },
  };
  const outcome = await executePlan(plan, ctx);
  if (outcome.exitCode === 0 && !ctx.dryRun) {
    ctx.say(live.where === 'gone'
      ? `${i.host.name}: ${live.detail}; record removed`
      : `detached ${i.host.name} from ${i.target.display}`);
  }
  return {
    exitCode: outcome.exitCode, id: rec.id, nic: i.host.name, target: i.target.display, where: live.where, detail: live.detail,
    ...(outcome.error ? { error: outcome.error.message } : {}),
    ...(outcome.dryRun ? { plan: outcome.dryRun } : {}),
  };
}
