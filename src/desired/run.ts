/** Run one plan for reconcile, silently (the report says what happened), or describe it in a dry run. */
import { Runner, describeDryRun, previewCaptures, unfinishedTouching, type Outcome, type Plan } from '../runner.js';
import type { Locks } from '../runner/locks.js';
import type { StateDir } from '../state.js';

export interface PlanRun {
  state: StateDir;
  locks: Locks;
  dryRun: boolean;
}

export async function runPlan(plan: Plan, r: PlanRun): Promise<Outcome> {
  if (r.dryRun) {
    const refusal = unfinishedTouching(r.state, plan.touches, plan.id);
    if (refusal) return { exitCode: refusal.exitCode, error: refusal, leftovers: [] };
    await previewCaptures(plan);
    return { exitCode: 0, leftovers: [], dryRun: describeDryRun(plan) };
  }
  r.state.ensure();
  try {
    return await new Runner({ state: r.state, renderer: 'silent', locks: r.locks }).run(plan);
  } catch (e) {
    // A refusal before any step (another plan unfinished on the NIC): nothing changed.
    if (e instanceof Error && 'exitCode' in e) return { exitCode: Number((e as { exitCode: number }).exitCode), error: e, leftovers: [] };
    throw e;
  }
}

/** An outcome's error as one line. */
export const outcomeError = (o: Outcome): string | undefined =>
  o.signal ? `interrupted by ${o.signal}` : o.error?.message;
