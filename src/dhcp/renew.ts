/**
 * A lease bound or renewed while its attachment is recorded (udhcpc's event
 * script, dhcp/script.ts, after it wrote the lease file). Nothing to do when
 * what is applied is the same (the lease file now holds the new expiry);
 * else, under the attachment's locks, the change is planned
 * (plan/repair.ts planLeaseChange) and run by the runner, and the record
 * keeps the new lease (the plan's finalize). During the attach itself there
 * is no record yet: the attach applies the first lease.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { makeContext } from '../cli/context.js';
import { executePlan } from '../cli/execute.js';
import { liveCheck } from '../observe/live.js';
import { planLeaseChange } from '../plan/repair.js';
import { appliedLease, loadRecords, recordPath, type AttachmentRecord } from '../records.js';
import { nsKey } from '../runner.js';
import { appliedPart, type DhcpLease } from './lease.js';

/** Resolves to what became of it: undefined (nothing to apply), 'applied', or why not. */
export async function renewed(path: string, lease: DhcpLease): Promise<string | undefined> {
  const ctx = makeContext({ stateDir: dirname(dirname(path)), quiet: true });
  const id = basename(path, '.json');
  const find = (): AttachmentRecord | undefined => loadRecords(ctx.state).records.find((r) => r.id === id && r.input.dhcp?.lease === path);
  const changed = (rec: AttachmentRecord): boolean => { const a = appliedLease(rec); return !a || appliedPart(a) !== appliedPart(lease); };
  const first = find();
  if (!first || !changed(first)) return undefined;
  const i = first.input;
  await ctx.locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId)]);
  try {
    const rec = find(); // under the locks: a detach may have given it back meanwhile
    if (!rec || !changed(rec)) return undefined;
    const live = await liveCheck(rec);
    if (live.status !== 'in place') {
      return `the lease of ${rec.input.ctrName} in ${rec.input.target.display} changed, not applied: ${live.detail}`;
    }
    const { saved, ...value } = rec;
    const outcome = await executePlan({
      id: randomBytes(4).toString('hex'), command: 'dhcp-renew', title: `Apply the renewed DHCP lease of ${rec.input.ctrName} in ${rec.input.target.display}`,
      steps: planLeaseChange(rec.input, saved), touches: [i.host.name, i.host.mac],
      finalize: { write: [{ path: recordPath(rec.id), value: { ...value, saved }, saved: true }] },
    }, ctx);
    if (outcome.exitCode === 0) return 'applied';
    return `the renewed lease of ${rec.input.ctrName} was not applied: ${outcome.error?.message ?? `exit ${outcome.exitCode}`}`;
  } finally {
    ctx.locks.release();
  }
}
