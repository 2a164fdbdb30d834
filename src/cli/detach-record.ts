/**
 * Giving one attachment back, shared by `hostnic detach` and the CNI DEL
 * (src/cni/attachments.ts): lock the NIC and its namespace, look where the
 * NIC is now, plan from a read made under the locks, run it, and keep what
 * could not be restored once the NIC was home (src/incomplete.ts), so that
 * `hostnic status` shows it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { clientsOf } from '../dhcp/client.js';
import { dhcpPlace } from '../dhcp/place.js';
import { clearHint, noteIncomplete } from '../incomplete.js';
import type { NsState } from '../kernel/ip.js';
import { liveCheck, type Live, type NsReads } from '../observe/live.js';
import { leftAlone, planDetachOf } from '../plan/detach.js';
import { fromTag, recordPath, type AttachmentRecord } from '../records.js';
import { DHCP_TIMEOUT } from '../request/parse.js';
import { nsKey, type Outcome, type Plan } from '../runner.js';
import type { StateDir } from '../state.js';
import { invert, makeStep } from '../steps/index.js';
import type { StepSpec } from '../steps/types.js';
import { executePlan } from './execute.js';
import type { Ctx } from './context.js';

export type Detached =
  | { meanwhile: true }
  | { meanwhile: false; live: Live; steps: StepSpec[]; notes: string[]; outcome: Outcome; incomplete?: string };

/** What a caller adds to a detach: detach's tag check, and its edit of the desired-state file. */
export interface DetachMore {
  /** More locks to hold (the desired-state file's). */
  lockKeys?: string[];
  /** Runs under the locks before the plan; what it throws leaves everything as it was. */
  check?: (live: Live, ctr: NsState | undefined) => Promise<void>;
  /** Steps to run after the detach's own, in the same plan, made under the locks; with what they touch. */
  extraSteps?: () => { steps: StepSpec[]; touches: string[] };
}

/**
 * A record rebuilt from a tag (the state directory was lost) knows nothing
 * of DHCP, but a client hostnic started for the NIC may still run in the
 * container: its environment names the lease file by the attachment's id.
 * Its stop goes first in the plan (the `dhcp.client` step, inverted, as a
 * detach with the record has it), so the lease is released before the NIC
 * leaves, and a rollback starts the client again, in the container's pid
 * namespace when its process lives (the tag does not carry the timeout: the
 * default). Detach and apply's give-back (desired/entry.ts) both use it.
 * The tag is the container's to write: an id that a record on disk owns is
 * not this attachment's, and nothing is stopped for it.
 */
export function strayClient(rec: AttachmentRecord, state: StateDir, live: Pick<Live, 'where' | 'nsPath'>, dryRun: boolean): StepSpec[] {
  if (!fromTag(rec) || rec.input.dhcp || existsSync(join(state.root, recordPath(rec.id)))) return [];
  const i = rec.input;
  if (live.where !== 'container' && live.where !== 'held') return [];
  const { pid: _pid, ...processless } = i.target;
  const place = dhcpPlace(state, rec.id, live.where === 'container' ? i.target : processless, true);
  if (clientsOf(place.lease, i.target.nsId).length === 0) return [];
  if (!dryRun) state.ensureDhcp(); // a rollback's client writes its lease there
  const params = { ns: live.nsPath ?? i.target.nsPath, dev: i.ctrName, lease: place.lease, timeout: DHCP_TIMEOUT, ...(place.pidns ? { pidns: place.pidns } : {}) };
  return [invert(makeStep('dhcp.client', 'ctr.dhcp.client', `Start the DHCP client on ${i.ctrName}`, params,
    { undoTitle: `Release the lease and stop the DHCP client on ${i.ctrName} (started by hostnic before its state directory was lost)` }))];
}

/**
 * Detach `rec` wherever its NIC is now (in the container, back in the host,
 * gone), with what `more` adds. `meanwhile`: another hostnic
 * gave it back while this one waited for the locks. Locks are released.
 */
export async function detachRecord(rec: AttachmentRecord, ctx: Ctx, reads: NsReads, more: DetachMore = {}): Promise<Detached> {
  const i = rec.input;
  try {
    if (!ctx.dryRun) {
      // The NIC, and the namespace it would go back to if the detach is rolled back (and what `more` edits).
      await ctx.locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId), ...(more.lockKeys ?? [])]);
      // What was read to choose the records may have changed before the locks were ours: plan from a read made under them.
      reads.clear();
      // Under the locks: another hostnic may have given it back meanwhile (a record rebuilt from a tag has no file).
      if (rec.createdAt !== '' && !existsSync(join(ctx.state.root, recordPath(rec.id)))) return { meanwhile: true };
    }
    const live = await liveCheck(rec, reads);
    const inNs = live.where === 'container' || live.where === 'held';
    const ctr = inNs ? await reads.get(live.nsPath ?? i.target.nsPath) : undefined;
    await more.check?.(live, ctr);
    const id = randomBytes(4).toString('hex');
    const { steps, title } = planDetachOf(rec, live, ctr, id);
    const extra = more.extraSteps?.() ?? { steps: [], touches: [] };
    const stray = strayClient(rec, ctx.state, live, ctx.dryRun);
    const plan: Plan = {
      id, command: 'detach', title, steps: [...stray, ...steps, ...extra.steps], touches: [i.host.name, i.host.mac, ...extra.touches],
      finalize: { remove: [recordPath(rec.id)] },
    };
    const outcome = await executePlan(plan, ctx);
    let incomplete: string | undefined;
    if (!ctx.dryRun) incomplete = noteIncomplete(ctx.state, rec, outcome);
    if (incomplete) {
      process.stderr.write(`hostnic: \`hostnic status\` shows what is left (${incomplete}); ${clearHint(rec.id)}\n`);
    }
    return { meanwhile: false, live, steps, notes: leftAlone(steps), outcome, ...(incomplete ? { incomplete } : {}) };
  } finally {
    ctx.locks.release();
  }
}
