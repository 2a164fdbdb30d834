/** hostnic detach <container> [<nic>]: give NICs back to the host, exactly as they were. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HostnicError, UsageError } from '../errors.js';
import { describeSelector } from '../observe/host.js';
import { liveCheck, NsReads } from '../observe/live.js';
import { taggedView } from '../observe/tagged.js';
import { leftAlone, planDetachOf } from '../plan/detach.js';
import { loadRecords, recordForSpec, recordFromTag, recordMatches, recordPath, type AttachmentRecord } from '../records.js';
import { nsKey, warmRenderer, type DryRunPlan, type Plan } from '../runner.js';
import { parseNicSelector, parseTarget } from '../request/parse.js';
import type { NicSelector } from '../request/types.js';
import { decodeTag } from '../tag.js';
import { describeTarget, resolveTarget } from '../runtime/resolve.js';
import { executePlan } from '../cli/execute.js';
import { defaultDesiredPath } from '../desired/file.js';
import { desiredKey, forgetChange } from '../desired/persist.js';
import type { Ctx } from '../cli/context.js';

export async function detachCommand(args: { container: string; nic?: string; keep?: boolean }, ctx: Ctx): Promise<number> {
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
      if (tag && !mine.some((r) => r.id === tag.id)) mine.push(recordFromTag(l, tag, target, await taggedView(target.nsPath, l.ifname)));
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
    const result = await detachOne(rec, ctx, reads, !!args.keep).finally(() => ctx.locks.release());
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
  /** Home, but these host settings could not be restored (exit 3): their commands. */
  notDone?: { title: string; error: string; commands: string[] }[];
  /** What was left as found, and why (a default route changed by hand). */
  leftAlone?: string[];
  /** Its entry removed from the desired-state file (detach without --keep). */
  desiredFile?: string;
  plan?: DryRunPlan;
}

async function detachOne(rec: AttachmentRecord, ctx: Ctx, reads: NsReads, keep: boolean): Promise<DetachResult> {
  const i = rec.input;
  if (!ctx.dryRun) {
    // The NIC, and the namespace it would go back to if the detach is rolled back (and the desired-state file, unless --keep).
    await ctx.locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId), ...(keep ? [] : [desiredKey(defaultDesiredPath())])]);
    // What was read to choose the records may have changed before the locks were ours: plan from a read made under them.
    reads.clear();
    // Under the locks: another hostnic may have detached it meanwhile (a record rebuilt from a tag has no file).
    if (rec.createdAt !== '' && !existsSync(join(ctx.state.root, recordPath(rec.id)))) {
      ctx.say(`${i.host.name}: detached meanwhile by another hostnic`);
      return { exitCode: 0, id: rec.id, nic: i.host.name, target: i.target.display, where: 'gone', detail: 'detached meanwhile by another hostnic' };
    }
  }
  const live = await liveCheck(rec, reads);
  const id = randomBytes(4).toString('hex');
  const inNs = live.where === 'container' || live.where === 'held';
  const ctr = inNs ? await reads.get(live.nsPath ?? i.target.nsPath) : undefined;
  const { steps, title } = planDetachOf(rec, live, ctr, id);
  const notes = leftAlone(steps);
  // Its entry in the desired-state file goes too, in the same plan, unless --keep.
  const desired = keep ? {} : forgetChange(rec);
  if (desired.warning) process.stderr.write(`hostnic: warning: ${desired.warning}\n`);
  const plan: Plan = {
    id, command: 'detach', title, steps: [...steps, ...(desired.change ? [desired.change.step] : [])],
    touches: [i.host.name, i.host.mac, ...(desired.change ? [desired.change.key] : [])],
    finalize: { remove: [recordPath(rec.id)] },
  };
  const outcome = await executePlan(plan, ctx);
  if (outcome.exitCode === 0 && !ctx.dryRun) {
    ctx.say(live.where === 'gone'
      ? `${i.host.name}: ${live.detail}; record removed`
      : `detached ${i.host.name} from ${i.target.display}`);
    if (!ctx.json) for (const n of notes) process.stderr.write(`hostnic: note: ${n}\n`);
    if (desired.change) ctx.say(`${i.host.name}: ${desired.change.what}`);
  }
  return {
    exitCode: outcome.exitCode, id: rec.id, nic: i.host.name, target: i.target.display, where: live.where, detail: live.detail,
    ...(outcome.error ? { error: outcome.error.message } : {}),
    ...(outcome.notDone ? { notDone: outcome.notDone } : {}),
    ...(notes.length ? { leftAlone: notes } : {}),
    ...(desired.change ? { desiredFile: desired.change.what } : {}),
    ...(outcome.dryRun ? { plan: outcome.dryRun } : {}),
  };
}
