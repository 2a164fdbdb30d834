/** hostnic recover: finish every plan a dead hostnic left unfinished. */
import { recoverAll } from '../cli/recover.js';
import { reportFailure } from '../cli/execute.js';
import type { Ctx } from '../cli/context.js';

export async function recoverCommand(ctx: Ctx): Promise<number> {
  const { recovered, bad, exitCode } = await recoverAll(ctx, {
    bad: (b) => process.stderr.write(`hostnic: cannot read ${b.file}: ${b.error} (move it aside to continue)\n`),
    each: (r) => {
      reportFailure(r.outcome);
      if (r.ok) ctx.say(`${r.action}: ${r.title} (left by pid ${r.pid} at ${r.startedAt})`);
    },
  });
  if (ctx.json) {
    ctx.emit({ recovered: recovered.map(({ id, title, pid, action, ok }) => ({ id, title, pid, action, ok })), unreadable: bad });
  } else if (recovered.length === 0) ctx.say('nothing to recover');
  return exitCode;
}
