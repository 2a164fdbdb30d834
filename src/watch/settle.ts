/**
 * After a container's namespace died: give back what hostnic attached to it.
 * A physical NIC the kernel returned to the host (under its container-side
 * name, or devN) gets its host identity back (plan/returned.ts: name, MAC,
 * MTU, addresses, routes, up state), so the container's next start finds it
 * where the desired file names it; a virtual NIC died with the namespace,
 * and its record is forgotten. The same plans `hostnic detach` runs for a
 * dead container, journaled and rolled back like every plan.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx } from '../cli/context.js';
import { liveCheck } from '../observe/live.js';
import { clearHint, noteIncomplete } from '../incomplete.js';
import { planDetachOf } from '../plan/detach.js';
import { loadRecords, recordForSpec, recordPath, type AttachmentRecord } from '../records.js';
import { parseTarget } from '../request/parse.js';
import { nsKey, Runner, type Plan } from '../runner.js';
import { targetAlive } from '../runtime/resolve.js';
import type { Logger } from './log.js';

/** The records of the container an entry names whose namespace is gone. */
export function deadRecords(ctx: Ctx, container: string): AttachmentRecord[] {
  const spec = parseTarget(container);
  return loadRecords(ctx.state).records.filter((r) => !targetAlive(r.input.target) && recordForSpec(r, spec));
}

export type Settled = 'restored' | 'forgotten' | 'not yet' | 'failed';

/** Settle one record of a dead namespace; 'not yet': its physical NIC is not back in the host (yet), or the namespace is held. */
export async function settle(ctx: Ctx, rec: AttachmentRecord, log: Logger): Promise<Settled> {
  const i = rec.input;
  await ctx.locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId)]);
  try {
    if (!existsSync(join(ctx.state.root, recordPath(rec.id)))) return 'forgotten'; // detached meanwhile
    const live = await liveCheck(rec);
    const fields = { container: i.target.display, nic: i.host.name, id: rec.id };
    if (live.where === 'held' || live.where === 'container') return 'not yet';
    const virtual = i.host.kind !== undefined;
    // A physical NIC not found: the namespace may still be on its way out; never forget its host settings.
    if (live.where === 'gone' && !virtual) return 'not yet';
    const id = randomBytes(4).toString('hex');
    const { steps, title } = planDetachOf(rec, live, undefined, id);
    const plan: Plan = { id, command: 'watch', title, steps, touches: [i.host.name, i.host.mac], finalize: { remove: [recordPath(rec.id)] } };
    const outcome = await new Runner({ state: ctx.state, renderer: 'silent', locks: ctx.locks }).run(plan);
    // Home, but some of its host settings could not be restored (a route whose source address expired): kept as a note.
    const note = noteIncomplete(ctx.state, rec, outcome);
    if (note) {
      log('restored', `${i.host.name} is back in the host (returned as ${live.liveName}), but ${outcome.notDone!.length} of its host settings could not be restored: \`hostnic status\` shows them (${note}); ${clearHint(rec.id)}`, { ...fields, exitCode: outcome.exitCode, incomplete: note });
      return 'restored';
    }
    if (outcome.exitCode !== 0) {
      const why = outcome.signal ? `interrupted by ${outcome.signal}` : (outcome.error?.message ?? `exit ${outcome.exitCode}`);
      const left = outcome.leftovers.length ? `; ${outcome.leftovers.length} change(s) left for hostnic recover` : '; rolled back';
      log('failed', `${title}: ${why}${left}`, { ...fields, exitCode: outcome.exitCode });
      return 'failed';
    }
    if (live.where === 'host') {
      log('restored', `${i.host.name} is back in the host as it was before ${i.target.display} (returned as ${live.liveName})`, fields);
      return 'restored';
    }
    log('destroyed', `${i.host.name} (${i.host.kind}) was destroyed with ${i.target.display}'s namespace; record forgotten`, fields);
    return 'forgotten';
  } finally {
    ctx.locks.release();
  }
}
