/**
 * hostnic recover: finish every plan a dead hostnic left unfinished;
 * --abandon drops one a person settled by hand, or the note of a restore a
 * detach could not finish (src/incomplete.ts), once a person finished it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { loadIncomplete } from '../incomplete.js';
import { hostnicAlive, unfinishedPlans } from '../runner.js';
import { recoverAll } from '../cli/recover.js';
import { reportFailure } from '../cli/execute.js';
import type { Ctx } from '../cli/context.js';

export async function recoverCommand(ctx: Ctx, opts: { abandon?: string } = {}): Promise<number> {
  if (opts.abandon !== undefined) return abandon(ctx, opts.abandon);
  const { recovered, bad, orphans, exitCode } = await recoverAll(ctx, {
    orphan: (line) => ctx.say(line),
    busy: (j, why) => process.stderr.write(`hostnic: not now: ${j.title} (plan ${j.id}): ${why}\n`),
    // Never run: a journal that fails validation (steps/validate.ts) stays where it is, for a person.
    bad: (b) => process.stderr.write(b.error.startsWith('invalid: ')
      ? `hostnic: not running ${b.file}: ${b.error}; left in place (look at it, then move it aside to continue)\n`
      : `hostnic: cannot read ${b.file}: ${b.error} (move it aside to continue)\n`),
    each: (r) => {
      reportFailure(r.outcome);
      if (r.ok) ctx.say(`${r.action}: ${r.title} (left by pid ${r.pid} at ${r.startedAt})`);
      else process.stderr.write(`hint: if it was settled by hand, \`hostnic recover --abandon ${r.id}\` drops it\n`);
    },
  });
  // Not plans: nothing to run, but a person has commands to finish.
  const notes = loadIncomplete(ctx.state).notes;
  if (notes.length && !ctx.json) {
    process.stderr.write(`hostnic: ${notes.length} incomplete restore(s) left by detach need a person: \`hostnic status\` lists their commands\n`);
  }
  if (ctx.json) {
    ctx.emit({ recovered: recovered.map(({ id, title, pid, action, ok }) => ({ id, title, pid, action, ok })), unreadable: bad });
  } else if (recovered.length === 0 && orphans === 0) ctx.say('nothing to recover');
  return exitCode;
}

/**
 * Drop the journal of one unfinished plan that a person settled by hand:
 * its NICs are no longer blocked by it. Nothing on the system is changed.
 */
async function abandon(ctx: Ctx, id: string): Promise<number> {
  if (!/^[0-9a-f]{1,64}$/i.test(id)) throw new UsageError(`"${id}" is not a plan id`, '`hostnic status` lists the unfinished plans with their ids');
  const find = () => unfinishedPlans(ctx.state).journals.find((j) => j.id === id);
  const listed = find();
  if (!listed) return clearIncomplete(ctx, id);
  const running = (): UsageError => new UsageError(
    `plan ${id} (${listed.title}) is still running (pid ${listed.pid}): not abandoning it`, 'wait for it to finish',
  );
  if (hostnicAlive(listed)) throw running();
  // Under its locks, like recover: no recover of it runs meanwhile; read it again under them.
  if (!ctx.dryRun) await ctx.locks.take(listed.locks);
  try {
    const j = find();
    if (!j) throw new UsageError(`no unfinished plan ${id} (it was finished meanwhile)`);
    if (hostnicAlive(j)) throw running();
    const started = j.steps.filter((s) => s.state !== 'pending' && s.state !== 'undone').map((s) => s.spec.title);
    if (!ctx.dryRun) ctx.state.remove(join(ctx.state.journalDir, `${j.id}.json`));
    const tmpNs = `hostnic-${j.id}`;
    const leftNs = existsSync(`/run/netns/${tmpNs}`);
    if (ctx.json) {
      ctx.emit({ abandoned: { id: j.id, title: j.title, pid: j.pid, startedAt: j.startedAt, touches: j.touches, started, dryRun: ctx.dryRun } });
      return EXIT.ok;
    }
    ctx.say(`${ctx.dryRun ? 'would abandon' : 'abandoned'}: ${j.title} (left by pid ${j.pid} at ${j.startedAt}); its journal is ${ctx.dryRun ? 'kept (dry run)' : 'removed'}, nothing on the system was changed`);
    if (started.length) ctx.say(`  it had started (as you settled them): ${started.join('; ')}`);
    if (leftNs) ctx.say(`  its private namespace ${tmpNs} is still there: \`ip netns delete ${tmpNs}\` once it holds no NIC`);
    return EXIT.ok;
  } finally {
    ctx.locks.release();
  }
}

/** Drop the note of an incomplete restore (its commands were run by hand): nothing on the system is changed. */
function clearIncomplete(ctx: Ctx, id: string): number {
  const note = loadIncomplete(ctx.state).notes.find((n) => n.id === id);
  if (!note) throw new UsageError(`no unfinished plan or incomplete restore ${id}`, '`hostnic status` lists both with their ids');
  if (!ctx.dryRun) ctx.state.remove(join(ctx.state.incompleteDir, `${note.id}.json`));
  if (ctx.json) {
    ctx.emit({ abandoned: { id: note.id, incomplete: true, nic: note.nic, target: note.target, notDone: note.notDone, dryRun: ctx.dryRun } });
    return EXIT.ok;
  }
  ctx.say(`${ctx.dryRun ? 'would clear' : 'cleared'}: the incomplete restore of ${note.nic} (from ${note.target} at ${note.createdAt}); nothing on the system was changed`);
  return EXIT.ok;
}
