/** hostnic attach <container> <nic> [<ip/cidr[@gw]>...] */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { describeSelector, hostLinks, hostNicState, nicNotFound } from '../observe/host.js';
import { liveCheck } from '../observe/live.js';
import { attachTouches, planAttach } from '../plan/attach.js';
import { attachInput, refuseMovingParent } from '../plan/attach-input.js';
import { loadRecords, recordMatches, recordPath, sameRequest } from '../records.js';
import { unfinishedTouching, warmRenderer, type Plan } from '../runner.js';
import { parseAttachRequest, type AttachInput as ParseInput } from '../request/parse.js';
import { SCHEMA } from '../state.js';
import { resolveTarget } from '../runtime/resolve.js';
import { lockAndLook, selectorKey } from '../cli/attach-look.js';
import { executePlan } from '../cli/execute.js';
import { dhcpPlace } from '../dhcp/place.js';
import { defaultDesiredPath } from '../desired/file.js';
import { checkPersistable, desiredKey, persistChange, type FileChange } from '../desired/persist.js';
import type { Ctx } from '../cli/context.js';

/** The parser's input, as yargs names it (`--route` is repeatable, so one word). */
export type AttachArgs = Omit<ParseInput, 'routes'> & { route?: string[]; persist?: boolean };

/**
 * yargs turns a repeated option into an array and a bare repeatable one into
 * []: `--name eth5 --name eth6` became the interface name "eth5,eth6", and a
 * bare `--route` (an empty shell variable) vanished. Report, do not guess.
 */
function checkOptionCounts(args: AttachArgs): void {
  for (const key of ['name', 'mac', 'mtu', 'macvlanMode'] as const) {
    const v: unknown = args[key];
    if (Array.isArray(v)) throw new UsageError(`--${key === 'macvlanMode' ? 'macvlan-mode' : key} is given ${v.length} times (${v.map(String).join(', ')}): give it once`);
  }
  if (args.route !== undefined && args.route.length === 0) {
    throw new UsageError('--route needs a value', 'write --route CIDR[@VIA], e.g. --route 10.2.0.0/16@192.168.1.1');
  }
}

export async function attachCommand(args: AttachArgs, ctx: Ctx): Promise<number> {
  checkOptionCounts(args);
  const req = parseAttachRequest({
    container: args.container, nic: args.nic, addresses: args.addresses ?? [], name: args.name, mac: args.mac,
    mtu: args.mtu, routes: args.route ?? [], force: args.force, macvlan: args.macvlan, macvlanMode: args.macvlanMode, dhcpTimeout: args.dhcpTimeout,
  });
  // --persist: a target the file cannot hold, or a file that is (or would be) bad, is refused before anything.
  if (args.persist) {
    checkPersistable(req);
    persistChange(args.container, args.nic, req);
  }
  // Looked up while listr2 loads (both only read).
  const lookup = resolveTarget(req.target);
  lookup.catch(() => undefined); // reported below
  warmRenderer(ctx.renderer);
  // The desired-state file's lock first (the Locks class lets go and waits in order if it must).
  if (args.persist && !ctx.dryRun) await ctx.locks.take([desiredKey(defaultDesiredPath())]);
  // Each namespace is read once (links, addresses, routes), under the locks, and everything is derived from that.
  const { target, hostState, ctrState, link } = await lockAndLook(ctx, req, await lookup);
  // Under the lock: the file as it is now.
  const persist = args.persist ? persistChange(args.container, args.nic, req) : undefined;
  const hostNics = hostLinks(hostState);
  const sel = describeSelector(req.nic);

  if (!link) {
    const rec = loadRecords(ctx.state).records.find((r) => recordMatches(r, req.nic));
    // An unfinished plan may have taken the NIC away: say so, not "no such NIC" or where a record says it is.
    const unfinished = unfinishedTouching(ctx.state, [selectorKey(req.nic), ...(rec ? [rec.input.host.name, rec.input.host.mac] : [])]);
    if (unfinished) throw unfinished;
    if (!rec) throw nicNotFound(req.nic, hostNics);
    const where = `${rec.input.target.display} as ${rec.input.ctrName}`;
    if (rec.input.target.nsId === target.nsId && sameRequest(rec.input.request, req, rec.input.ctrName)) {
      const live = await liveCheck(rec);
      if (live.status === 'in place') {
        if (persist) return persistOnly(persist, ctx);
        if (ctx.json) ctx.emit({ ok: true, alreadyAttached: true, id: rec.id, nic: rec.input.host.name, target: rec.input.target.display, name: rec.input.ctrName });
        else ctx.say(`${sel} is already attached to ${where}: nothing to do`);
        return 0;
      }
      throw new UsageError(`${sel} is attached to ${where} but ${live.detail}`, `check with: hostnic status; then hostnic detach ${args.container} ${rec.input.host.name}`);
    }
    throw new UsageError(`${sel} is already attached to ${where}`, `detach it first: hostnic detach ${rec.input.target.display} ${rec.input.host.name}`);
  }

  refuseMovingParent(link.ifname, req, loadRecords(ctx.state).records);
  // A macvlan child of this parent in this container already: the same request is a no-op, another one is refused.
  if (req.macvlan) {
    const rec = loadRecords(ctx.state).records.find((r) => r.input.macvlan?.parent === link.ifname && r.input.target.nsId === target.nsId);
    if (rec) {
      const where = `${rec.input.target.display} as ${rec.input.ctrName}`;
      const live = await liveCheck(rec);
      if (sameRequest(rec.input.request, req, rec.input.ctrName) && live.status === 'in place') {
        if (persist) return persistOnly(persist, ctx);
        if (ctx.json) ctx.emit({ ok: true, alreadyAttached: true, id: rec.id, nic: link.ifname, macvlan: true, target: rec.input.target.display, name: rec.input.ctrName });
        else ctx.say(`a macvlan child of ${link.ifname} is already attached to ${where}: nothing to do`);
        return 0;
      }
      throw new UsageError(`a macvlan child of ${link.ifname} is already attached to ${where}${live.status === 'in place' ? ' (with other settings)' : ` but ${live.detail}`}`,
        `detach it first: hostnic detach ${args.container} ${link.ifname}`);
    }
  }

  const id = randomBytes(4).toString('hex');
  const input = attachInput(id, req, target, { link, host: hostNicState(link, hostState), hostState, ctrState });
  if (req.dhcp) input.dhcp = dhcpPlace(ctx.state, id, target, ctx.dryRun);
  const { host, ctrName } = input;
  const plan: Plan = {
    id,
    command: 'attach',
    title: input.macvlan ? `Attach a macvlan child of ${host.name} to ${target.display} as ${ctrName}` : `Attach ${host.name} to ${target.display} as ${ctrName}`,
    steps: [...planAttach(input), ...(persist ? [persist.step] : [])],
    touches: [...attachTouches(input), ...(persist ? [persist.key] : [])],
    finalize: {
      write: [{ path: recordPath(id), value: { schema: SCHEMA, kind: 'attachment', id, createdAt: new Date().toISOString(), input }, saved: true }],
    },
  };
  const outcome = await executePlan(plan, ctx);
  if (ctx.dryRun) {
    if (ctx.json) ctx.emit({ dryRun: true, plan: outcome.dryRun });
  } else if (outcome.exitCode === 0) {
    const summary = {
      ok: true, id, nic: host.name, target: target.display, name: ctrName,
      mac: req.mac ?? host.mac, addresses: req.addresses.map((a) => a.cidr), ...(persist ? { persisted: persist.path } : {}),
      ...(input.macvlan ? { macvlan: input.macvlan } : {}),
    };
    if (ctx.json) ctx.emit(summary);
    else ctx.say(`attached ${input.macvlan ? `a macvlan child (${input.macvlan.mode}) of ` : ''}${host.name} to ${target.display} as ${ctrName}${summary.addresses.length ? ` (${summary.addresses.join(', ')})` : ''}${persist ? `; ${persist.what}` : ''}`);
  } else if (ctx.json) {
    ctx.emit({ ok: false, exitCode: outcome.exitCode, error: outcome.error?.message, leftovers: outcome.leftovers });
  }
  return outcome.exitCode;
}

/** Already attached as asked: only the entry is written (one journaled step). */
async function persistOnly(change: FileChange, ctx: Ctx): Promise<number> {
  const id = randomBytes(4).toString('hex');
  const outcome = await executePlan({ id, command: 'attach', title: change.step.title, steps: [change.step], touches: [change.key], finalize: {} }, ctx);
  if (outcome.exitCode === 0 && !ctx.dryRun) {
    if (ctx.json) ctx.emit({ ok: true, alreadyAttached: true, persisted: change.path });
    else ctx.say(`already attached; ${change.what}`);
  }
  return outcome.exitCode;
}
