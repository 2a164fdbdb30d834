/**
 * One entry of the desired-state file made true: observe read-only first
 * (an entry in place runs nothing that changes the system), then, only when
 * something must change, lock, look again and run one journaled plan at a
 * time through the one runner. Never prints: returns an EntryResult.
 */
import { randomBytes } from 'node:crypto';
import { lockAndLook } from '../cli/attach-look.js';
import { strayClient } from '../cli/detach-record.js';
import { EXIT, HostnicError, NotRunning, RefusedError, RuntimeDown } from '../errors.js';
import { readNs, type NsState } from '../kernel/ip.js';
import { describeSelector, hostLinks, hostNicState } from '../observe/host.js';
import { liveCheck, NsReads } from '../observe/live.js';
import { findTagged, taggedView } from '../observe/tagged.js';
import { attachTouches, planAttach } from '../plan/attach.js';
import { attachInput, refuseMovingParent } from '../plan/attach-input.js';
import { planDetachOf } from '../plan/detach.js';
import { planRepair } from '../plan/repair.js';
import { appliedLease, loadRecords, recordForSpec, recordFromTag, recordPath, recordWanted, sameRequest, type AttachmentRecord } from '../records.js';
import { nsKey, type DryRunPlan, type Outcome, type Plan } from '../runner.js';
import { resolveTarget, targetAlive } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import { SCHEMA } from '../state.js';
import { dhcpPlace } from '../dhcp/place.js';
import { clearHint, noteIncomplete } from '../incomplete.js';
import { decodeTag } from '../tag.js';
import { containerKey, type DesiredEntry } from './parse.js';
import { outcomeError, runPlan, type PlanRun } from './run.js';
import type { EntryResult } from './types.js';

const newId = (): string => randomBytes(4).toString('hex');

/** What lockAndLook saw: the container, both namespaces and the NIC, under the locks. */
type Looked = Awaited<ReturnType<typeof lockAndLook>>;

/**
 * An entry whose container stopped or restarted while it was looked at or
 * worked on (a read in its namespace failed because the namespace is gone):
 * it waits for the next start, which is another look. Not a failure.
 */
export function stoppedMeanwhile(entry: DesiredEntry, target: Target, e: unknown): EntryResult {
  const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return {
    line: entry.line, container: entry.container, nic: entry.nic, action: 'skipped', why: 'container-not-running',
    detail: `waiting: ${target.display} stopped while it was looked at (${why})`, exitCode: 0,
  };
}

/**
 * `targets`: the containers resolved so far, by containerKey (undefined: not running); this entry's is added.
 * `invalid`: records on disk that failed validation, by id (their error): never replaced by what a tag says.
 */
export async function applyEntry(
  entry: DesiredEntry, records: AttachmentRecord[], r: PlanRun, targets?: Map<string, Target | undefined>, invalid: ReadonlyMap<string, string> = new Map(),
): Promise<EntryResult> {
  const base = { line: entry.line, container: entry.container, nic: entry.nic };
  const req = entry.request;
  let target: Target;
  try {
    target = await resolveTarget(req.target);
    targets?.set(containerKey(entry.container), target);
  } catch (e) {
    targets?.set(containerKey(entry.container), undefined);
    if (!(e instanceof HostnicError)) throw e;
    if (e instanceof NotRunning) return { ...base, action: 'skipped', why: 'container-not-running', detail: `waiting: ${e.message}`, exitCode: 0 };
    // The runtime is down or restarting (dockerd sends a container's die while it shuts down): nothing to do but wait for it.
    if (e instanceof RuntimeDown) return { ...base, action: 'skipped', why: 'runtime-unavailable', detail: `waiting for the runtime: ${e.message}`, exitCode: 1 };
    return { ...base, action: 'failed', detail: e.message, error: e.message, exitCode: 1 };
  }
  let mine = records.filter((rec) => recordWanted(rec, req) && recordForSpec(rec, req.target, target));
  // No record of this NIC in this namespace (a container that just started, an entry never applied):
  // it will most likely be attached, so lock first and look once, under the locks, for both
  // the check below and the attach. Otherwise look without locks: an entry in place takes none.
  let looked: Looked | undefined;
  let ctr: NsState;
  try {
    if (!r.dryRun && !mine.some((m) => m.input.target.nsId === target.nsId)) {
      looked = await lockAndLook({ dryRun: false, locks: r.locks }, req, target);
      if (looked.target.nsId !== target.nsId) {
        // Looked up again after a long wait: another namespace now.
        target = looked.target;
        targets?.set(containerKey(entry.container), target);
        mine = records.filter((rec) => recordWanted(rec, req) && recordForSpec(rec, req.target, target));
      }
    }
    ctr = looked?.ctrState ?? await readNs(target.nsPath);
  } catch (e) {
    // The container's namespace went away while it was looked at (it stopped or restarted meanwhile):
    // nothing was tried; its next start (an event, a resync) is another look.
    if (e instanceof RefusedError || targetAlive(target)) throw e; // a lock held too long is said as such
    return stoppedMeanwhile(entry, target, e);
  }
  // NICs hostnic tagged in the container whose record is gone (state directory lost).
  for (const l of ctr.links) {
    const tag = decodeTag(l.ifalias);
    if (!tag || mine.some((m) => m.id === tag.id)) continue;
    // Its record is there but cannot be used: not rebuilt from the tag (and then removed), as detach refuses
    // it. Only this entry's NIC (the tag's host name or MAC) fails the entry; another entry's is its own.
    const bad = invalid.get(tag.id);
    const ours = !!tag.macvlan === !!req.macvlan && (req.nic.kind === 'pci' || (req.nic.kind === 'name' && tag.name === req.nic.name) || (req.nic.kind === 'mac' && tag.mac === req.nic.mac));
    if (bad !== undefined && !ours) continue;
    if (bad !== undefined) {
      const msg = `the record of ${l.ifname} in ${target.display} cannot be used: ${bad}; nothing changed (look at it, and fix it or move it aside)`;
      return { ...base, action: 'failed', detail: msg, error: msg, exitCode: 1 };
    }
    const rec = recordFromTag(l, tag, target, await taggedView(target.nsPath, l.ifname));
    if (recordWanted(rec, req) || (!req.macvlan && req.nic.kind === 'mac' && tag.mac === req.nic.mac)) mine.push(rec);
  }
  const here = mine.find((m) => m.input.target.nsId === target.nsId);
  const plans: DryRunPlan[] = [];
  // A give-back that brought the NIC home without all of its host settings (noted: giveBack) is done:
  // the attach goes on, and the entry says so (exit 3).
  const notes: string[] = [];
  const done = (o: Outcome): boolean => {
    if (o.dryRun) plans.push(o.dryRun);
    if (o.exitCode === EXIT.incomplete && o.notDone?.length && o.error) notes.push(o.error.message);
    return o.exitCode === 0 || (o.exitCode === EXIT.incomplete && !!o.notDone?.length);
  };
  const fail = (o: Outcome, what: string): EntryResult => ({
    ...base, action: 'failed', exitCode: o.exitCode === 2 ? 1 : o.exitCode, detail: `${what}: ${outcomeError(o) ?? 'failed'}`,
    ...(outcomeError(o) ? { error: outcomeError(o) } : {}), ...(o.leftovers.length ? { leftovers: o.leftovers } : {}),
  });

  // Records of the container's earlier namespace (it restarted): give the NIC back to the host first.
  for (const old of mine.filter((m) => m.input.target.nsId !== target.nsId)) {
    looked = undefined; // a plan runs: what was seen before is not what is there after
    let o: Outcome;
    try {
      o = await giveBack(old, r);
    } catch (e) {
      if (!(e instanceof NotBackYet)) throw e;
      return { ...base, action: 'skipped', why: 'nic-returning', detail: `waiting: ${e.message}`, exitCode: 1 };
    }
    if (!done(o)) return fail(o, `restoring ${old.input.host.name} from ${old.input.target.display}'s earlier namespace`);
  }
  let repaired: { drift: string[]; besides: string[] } | undefined;
  if (here) {
    const link = findTagged(ctr.links, here.id);
    const changedInFile = !sameRequest(here.input.request, req, here.input.ctrName);
    if (link && !changedInFile) {
      const seen = planRepair(here.input, { ...link, addr_info: ctr.links.find((l) => l.ifindex === link.ifindex)?.addr_info ?? [] }, ctr, appliedLease(here));
      const besides = seen.besides.length ? { besides: seen.besides } : {};
      if (seen.drift.length === 0) {
        return { ...base, action: 'in-place', detail: `${here.input.macvlan ? 'a macvlan child of ' : ''}${here.input.host.name} is in ${target.display} as ${here.input.ctrName}`, id: here.id, ctrName: here.input.ctrName, exitCode: 0, ...besides };
      }
      const o = await repairInPlace(here, target, r);
      if (!done(o.outcome)) return { ...fail(o.outcome, 'repairing'), drift: o.drift };
      return {
        ...base, action: 'repaired', detail: `put back: ${o.drift.join(', ')}`, drift: o.drift, id: here.id, ctrName: here.input.ctrName, exitCode: 0,
        ...(o.besides.length ? { besides: o.besides } : {}), ...(plans.length ? { plans } : {}),
      };
    }
    // Not in the container any more (moved out by hand), or the entry changed since: give it back, then attach anew.
    looked = undefined;
    const o = await giveBack(here, r);
    if (!done(o)) return fail(o, `taking ${here.input.host.name} back`);
    repaired = { drift: [link ? "the entry's values changed since the attach" : `${here.input.ctrName} is no longer in ${target.display}`], besides: [] };
  }
  if (r.dryRun && (repaired || mine.length > (here ? 1 : 0))) {
    // The NIC is not back in the host yet, so the attach cannot be planned from here: say what would follow.
    const why = repaired?.drift ?? [`${entry.container} restarted (its earlier namespace had the NIC)`];
    return { ...base, action: repaired ? 'repaired' : 'attached', detail: `${why.join(', ')}: give the NIC back, then attach it anew`, drift: why, exitCode: 0, plans };
  }
  const a = await attachFresh(entry, target, records, r, looked);
  if (a.outcome) done(a.outcome);
  const noted = notes.length ? { exitCode: Math.max(a.result.exitCode, EXIT.incomplete), detail: `${a.result.detail}; ${notes.join('; ')}` } : {};
  if (a.result.exitCode !== 0 || a.result.action === 'skipped') return { ...a.result, ...noted, ...(plans.length ? { plans } : {}) };
  return {
    ...a.result,
    ...(repaired ? { action: 'repaired', detail: `${repaired.drift.join(', ')}: ${a.result.detail}`, drift: repaired.drift } : {}),
    ...noted,
    ...(plans.length ? { plans } : {}),
  };
}

/**
 * Give an attachment's NIC back to the host, wherever it is now (its
 * container, the host under another name, gone), and forget the record:
 * detach's own planning (plan/detach.ts), under detach's locks.
 */
export async function giveBack(rec: AttachmentRecord, r: PlanRun): Promise<Outcome> {
  const i = rec.input;
  if (!r.dryRun) await r.locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId)]);
  const reads = new NsReads();
  const live = await liveCheck(rec, reads);
  // A physical NIC found nowhere while its namespace is dead: the kernel may still be handing it back.
  // Its record is all hostnic knows of its host settings: kept (as watch's settle keeps it), not forgotten.
  if (live.where === 'gone' && i.host.kind === undefined && !targetAlive(i.target)) throw new NotBackYet(i.host.name, i.target.display);
  const id = newId();
  const inNs = live.where === 'container' || live.where === 'held';
  const ctr: NsState | undefined = inNs ? await reads.get(live.nsPath ?? i.target.nsPath) : undefined;
  const { steps, title } = planDetachOf(rec, live, ctr, id);
  const plan: Plan = {
    id, command: 'apply', title, steps: [...strayClient(rec, r.state, live, r.dryRun), ...steps], touches: [i.host.name, i.host.mac], finalize: { remove: [recordPath(rec.id)] },
  };
  const outcome = await runPlan(plan, r);
  // Home, but some of its host settings could not be restored: kept as a note, and said (exit 3).
  const note = r.dryRun ? undefined : noteIncomplete(r.state, rec, outcome);
  return note
    ? { ...outcome, error: new Error(`${i.host.name} is back in the host, but ${outcome.notDone!.length} of its host settings could not be restored: \`hostnic status\` shows them (${note}); ${clearHint(rec.id)}`) }
    : outcome;
}

/** giveBack: a physical NIC of a dead namespace not back in the host (yet); nothing was done. */
export class NotBackYet extends Error {
  constructor(nic: string, from: string) {
    super(`${nic} is not back in the host from ${from}'s earlier namespace yet (its record is kept; looked at again at the next apply)`);
  }
}

/** Put drifted settings back, under the locks, from a read made under them. */
async function repairInPlace(rec: AttachmentRecord, target: Target, r: PlanRun): Promise<{ outcome: Outcome; drift: string[]; besides: string[] }> {
  const i = rec.input;
  if (!r.dryRun) await r.locks.take([i.host.name, i.host.mac, nsKey(target.nsId)]);
  const ctr = await readNs(target.nsPath);
  const link = findTagged(ctr.links, rec.id);
  if (!link) return { outcome: { exitCode: 1, error: new Error(`${i.ctrName} left ${target.display} meanwhile`), leftovers: [] }, drift: [], besides: [] };
  const { drift, besides, steps } = planRepair(i, ctr.links.find((l) => l.ifindex === link.ifindex)!, ctr, appliedLease(rec));
  const id = newId();
  const plan: Plan = { id, command: 'apply', title: `Repair ${i.ctrName} in ${target.display}`, steps, touches: [i.host.name, i.host.mac], finalize: {} };
  return { outcome: await runPlan(plan, r), drift, besides };
}

/**
 * The attach command's flow for one entry: lock, look, plan, run; the record written by the runner at the end.
 * `looked`: what lockAndLook saw for this entry, under the locks still held, with no plan run since: not read again.
 */
async function attachFresh(entry: DesiredEntry, first: Target, records: AttachmentRecord[], r: PlanRun, looked?: Looked): Promise<{ result: EntryResult; outcome?: Outcome }> {
  const base = { line: entry.line, container: entry.container, nic: entry.nic };
  const req = entry.request;
  const { target, hostState, ctrState, link } = looked ?? await lockAndLook({ dryRun: r.dryRun, locks: r.locks }, req, first);
  if (!link) {
    const elsewhere = req.macvlan ? undefined : records.find((rec) => recordWanted(rec, req) && rec.input.target.nsId !== target.nsId);
    if (elsewhere) {
      const msg = `${describeSelector(req.nic)} is attached to ${elsewhere.input.target.display}, not ${target.display} (detach it there, or run apply --prune)`;
      return { result: { ...base, action: 'failed', detail: msg, error: msg, exitCode: 1 } };
    }
    const here = hostLinks(hostState).map((l) => l.ifname).join(', ') || 'none';
    return { result: { ...base, action: 'skipped', why: 'nic-missing', detail: `no NIC ${describeSelector(req.nic)} on the host (NICs here: ${here})`, exitCode: 1 } };
  }
  const id = newId();
  let input;
  try {
    refuseMovingParent(link.ifname, req, loadRecords(r.state).records);
    input = attachInput(id, req, target, { link, host: hostNicState(link, hostState), hostState, ctrState });
    if (req.dhcp) input.dhcp = dhcpPlace(r.state, id, target, r.dryRun);
  } catch (e) {
    if (!(e instanceof HostnicError)) throw e;
    return { result: { ...base, action: 'failed', detail: e.message, error: e.message, exitCode: 1 } };
  }
  const { host, ctrName } = input;
  const plan: Plan = {
    id, command: 'apply', title: `Attach ${input.macvlan ? 'a macvlan child of ' : ''}${host.name} to ${target.display} as ${ctrName}`, steps: planAttach(input), touches: attachTouches(input),
    finalize: { write: [{ path: recordPath(id), value: { schema: SCHEMA, kind: 'attachment', id, createdAt: new Date().toISOString(), input }, saved: true }] },
  };
  const outcome = await runPlan(plan, r);
  if (outcome.exitCode !== 0) {
    const err = outcomeError(outcome) ?? 'failed';
    return {
      outcome,
      result: { ...base, action: 'failed', detail: `attaching ${host.name}: ${err}`, error: err, exitCode: outcome.exitCode, ...(outcome.leftovers.length ? { leftovers: outcome.leftovers } : {}) },
    };
  }
  const addrs = [...(req.dhcp ? ['dhcp'] : []), ...req.addresses.map((a) => a.cidr)].join(', ');
  return { outcome, result: { ...base, action: 'attached', detail: `${host.name} to ${target.display} as ${ctrName}${addrs ? ` (${addrs})` : ''}`, id, ctrName, exitCode: 0 } };
}
