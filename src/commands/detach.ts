/** hostnic detach <container> [<nic>]: give NICs back to the host, exactly as they were. */
import { join } from 'node:path';
import { HostnicError, signalExit, UsageError } from '../errors.js';
import { describeSelector } from '../observe/host.js';
import { links } from '../kernel/ip.js';
import { liveCheck, NsReads, type Live } from '../observe/live.js';
import { taggedView } from '../observe/tagged.js';
import { fromTag, loadRecords, recordForSpec, recordFromTag, recordMatches, recordNamed, recordPath, tagDisagreements, UNKNOWN_WITHOUT_RECORD, type AttachmentRecord } from '../records.js';
import { warmRenderer, type DryRunPlan } from '../runner.js';
import { parseNicSelector, parseTarget } from '../request/parse.js';
import type { NicSelector } from '../request/types.js';
import { decodeTag } from '../tag.js';
import { describeTarget, resolveTarget } from '../runtime/resolve.js';
import { detachRecord } from '../cli/detach-record.js';
import { defaultDesiredPath } from '../desired/file.js';
import { desiredKey, forgetChange } from '../desired/persist.js';
import type { Ctx } from '../cli/context.js';

export async function detachCommand(args: { container: string; nic?: string; force?: boolean; keep?: boolean }, ctx: Ctx): Promise<number> {
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
  const { records, bad } = loadRecords(ctx.state);
  const mine = records.filter((r) => recordForSpec(r, spec, target));
  // NICs tagged by hostnic in the container but without a record (state directory lost).
  if (target) {
    // A name that is a recorded NIC's host name is that NIC, not another so named inside the container.
    const byHost = !!sel && mine.some((r) => recordMatches(r, sel));
    for (const l of (await reads.get(target.nsPath)).links) {
      const tag = decodeTag(l.ifalias);
      if (!tag || mine.some((r) => r.id === tag.id)) continue;
      // Its record is there but failed validation (steps/validate.ts): nothing runs from it, and the tag alone would lose what it holds.
      const invalid = bad.find((b) => b.file === join(ctx.state.attachDir, `${tag.id}.json`) && b.error.startsWith('invalid: '));
      if (invalid && (!sel || (sel.kind === 'name' && (sel.name === tag.name || (!byHost && sel.name === l.ifname))) || (sel.kind === 'mac' && sel.mac === tag.mac))) {
        throw new UsageError(
          `the record of ${l.ifname} (${tag.name} in the host) is not valid: ${invalid.file}: ${invalid.error.slice('invalid: '.length)}; nothing changed`,
          'look at the record, and fix it or move it aside (detach then restores only what the tag on the NIC carries)',
        );
      }
      mine.push(recordFromTag(l, tag, target, await taggedView(target.nsPath, l.ifname)));
    }
  }
  // The NIC the selector names in the host first; only when none is, the NIC as the container knows it
  // (its name there, also after a rename inside): on a host of ethN NICs, eth1 may be both, two NICs.
  const chosen = sel ? mine.filter((r) => recordMatches(r, sel)) : [...mine];
  if (sel && chosen.length === 0) {
    for (const r of mine) {
      if (recordNamed(r, sel) || (sel.kind === 'name' && (await liveCheck(r, reads)).liveName === sel.name)) chosen.push(r);
    }
  }
  const who = target?.display ?? describeTarget(spec);
  if (chosen.length === 0) {
    if (!target && mine.length === 0) throw new UsageError(`no container ${describeTarget(spec)} and nothing hostnic attached to it`);
    throw new UsageError(`nothing hostnic attached to ${who}${sel ? ` matches ${describeSelector(sel)}` : ''}`);
  }
  let exit = 0;
  const results: DetachResult[] = [];
  for (const [n, rec] of chosen.entries()) {
    const result = await detachOne(rec, ctx, reads, { force: !!args.force, keep: !!args.keep });
    reads.clear(); // that detach changed the namespaces
    results.push(result);
    exit = Math.max(exit, result.exitCode);
    if (result.exitCode !== 0) break;
    // A signal during this NIC's last step: its detach finished, and no other starts.
    if (result.signal && n < chosen.length - 1) {
      exit = signalExit(result.signal);
      process.stderr.write(`hostnic: interrupted by ${result.signal}: not detached: ${chosen.slice(n + 1).map((r) => r.input.host.name).join(', ')}\n`);
      break;
    }
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
  /** A signal came during its last step: this NIC's detach finished, no other started. */
  signal?: NodeJS.Signals;
  /** Home, but these host settings could not be restored (exit 3): their commands. */
  notDone?: { title: string; error: string; commands: string[] }[];
  /** The note that keeps them for `hostnic status` (src/incomplete.ts). */
  incomplete?: string;
  /** What was left as found, and why (a default route changed by hand). */
  leftAlone?: string[];
  /**
   * No record (state directory lost): detached from the tag on the NIC, which
   * does not carry these host settings, so they were not restored.
   */
  unknown?: (keyof typeof UNKNOWN_WITHOUT_RECORD)[];
  /** Its entry removed from the desired-state file (detach without --keep). */
  desiredFile?: string;
  plan?: DryRunPlan;
}

async function detachOne(rec: AttachmentRecord, ctx: Ctx, reads: NsReads, { force, keep }: { force: boolean; keep: boolean }): Promise<DetachResult> {
  const i = rec.input;
  // Its entry in the desired-state file goes too, in the same plan, unless --keep (read under the file's lock).
  let desired: ReturnType<typeof forgetChange> = {};
  const d = await detachRecord(rec, ctx, reads, {
    lockKeys: keep ? [] : [desiredKey(defaultDesiredPath())],
    check: async (live, ctr) => {
      await checkTag(rec, live, ctr?.links ?? (live.where === 'host' ? await links() : []), force, ctx);
    },
    extraSteps: () => {
      if (keep) return { steps: [], touches: [] };
      desired = forgetChange(rec);
      if (desired.warning) process.stderr.write(`hostnic: warning: ${desired.warning}\n`);
      return desired.change ? { steps: [desired.change.step], touches: [desired.change.key] } : { steps: [], touches: [] };
    },
  });
  if (d.meanwhile) {
    ctx.say(`${i.host.name}: detached meanwhile by another hostnic`);
    return { exitCode: 0, id: rec.id, nic: i.host.name, target: i.target.display, where: 'gone', detail: 'detached meanwhile by another hostnic' };
  }
  const { live, notes, outcome } = d;
  if (outcome.exitCode === 0 && !ctx.dryRun) {
    ctx.say(live.where === 'gone'
      ? `${i.host.name}: ${live.detail}; record removed`
      : `detached ${i.host.name} from ${i.target.display}`);
    if (!ctx.json) for (const n of notes) process.stderr.write(`hostnic: note: ${n}\n`);
    if (desired.change) ctx.say(`${i.host.name}: ${desired.change.what}`);
  }
  const unknown = fromTag(rec) && live.where !== 'gone' ? Object.keys(UNKNOWN_WITHOUT_RECORD) as (keyof typeof UNKNOWN_WITHOUT_RECORD)[] : [];
  if (unknown.length && outcome.exitCode === 0 && !ctx.dryRun && !ctx.json) {
    process.stderr.write(`hostnic: warning: ${i.host.name} had no record (state directory lost?): restored what the tag on it carries `
      + `(name, MAC, MTU, alias, up state); not known, so not restored: ${unknown.map((k) => UNKNOWN_WITHOUT_RECORD[k]).join(', ')}\n`);
  }
  return {
    exitCode: outcome.exitCode, id: rec.id, nic: i.host.name, target: i.target.display, where: live.where, detail: live.detail,
    ...(outcome.error ? { error: outcome.error.message } : {}),
    ...(outcome.signal ? { signal: outcome.signal } : {}),
    ...(outcome.notDone ? { notDone: outcome.notDone } : {}),
    ...(d.incomplete ? { incomplete: d.incomplete } : {}),
    ...(notes.length ? { leftAlone: notes } : {}),
    ...(unknown.length ? { unknown } : {}),
    ...(desired.change ? { desiredFile: desired.change.what } : {}),
    ...(outcome.dryRun ? { plan: outcome.dryRun } : {}),
  };
}

/**
 * A record edited by hand (or a tag changed in the container) must not be
 * acted on silently: where the record and the tag hostnic left on the NIC
 * disagree about what the tag carries, detach refuses (exit 2, nothing
 * changed) and says where, unless --force (then the record is followed).
 * Neither is trusted over the other: the record is root's, but may have been
 * edited; the tag is the NIC's own, but anyone with CAP_NET_ADMIN in the
 * container can rewrite it.
 */
async function checkTag(rec: AttachmentRecord, live: Live, seen: { ifname: string; ifalias?: string }[], force: boolean, ctx: Ctx): Promise<void> {
  if (rec.createdAt === '' || !live.liveName) return; // rebuilt from the tag itself, or the NIC is gone
  const tag = decodeTag(seen.find((l) => l.ifname === live.liveName)?.ifalias);
  if (!tag || tag.id !== rec.id) return;
  const diff = tagDisagreements(rec, tag);
  if (diff.length === 0) return;
  const file = join(ctx.state.root, recordPath(rec.id));
  if (force) {
    process.stderr.write(`hostnic: warning: ${file} disagrees with the tag on ${live.liveName} (${diff.join('; ')}): restoring what the record says (--force)\n`);
    return;
  }
  throw new UsageError(
    `${file} disagrees with the tag hostnic left on ${live.liveName}: ${diff.join('; ')}; nothing changed`,
    'the record was edited, or the tag was changed in the container: put the record back as the tag says, or detach --force to restore what the record says',
  );
}
