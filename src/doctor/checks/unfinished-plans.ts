/** unfinished-plans: journals of plans a hostnic started and did not finish. */
import { hostnicAlive, unfinishedPlans as journalsOf } from '../../runner.js';
import { StateDir } from '../../state.js';
import type { Check, DoctorCheck } from '../types.js';

export interface UnfinishedPlan {
  id: string;
  title: string;
  command: string;
  pid: number;
  startedAt: string;
  /** The hostnic that wrote it is still running: a plan in progress, not a dead one. */
  running: boolean;
}

/**
 * The journals in the state directory (the runner's own reader): plans a
 * hostnic started and did not finish, and journal files that do not parse.
 * A journal whose hostnic still runs is a plan in progress.
 */
export function planSummaries(stateDir: string, procRoot = '/proc'): { plans: UnfinishedPlan[]; unreadable: { file: string; error: string }[] } {
  const { journals, bad } = journalsOf(new StateDir(stateDir));
  return {
    plans: journals.map((j) => ({
      id: j.id, title: j.title, command: j.command, pid: j.pid, startedAt: j.startedAt, running: hostnicAlive(j, procRoot),
    })),
    unreadable: bad,
  };
}

export function checkUnfinishedPlans(stateDir: string, procRoot = '/proc'): Check {
  const { plans, unreadable } = planSummaries(stateDir, procRoot);
  const dead = plans.filter((p) => !p.running);
  const running = plans.filter((p) => p.running);
  const why = 'A plan cut off half-way may have left a NIC in a temporary namespace or a sysctl changed; hostnic refuses to touch that NIC again until the plan is finished or undone.';
  const inProgress = running.length ? ` (${running.map((p) => `"${p.title}" in progress, pid ${p.pid}`).join('; ')})` : '';
  if (dead.length === 0 && unreadable.length === 0) {
    return { id: 'unfinished-plans', verdict: 'ok', title: `No unfinished plans in ${stateDir}${inProgress}`, why };
  }
  const parts = [
    ...dead.map((p) => `"${p.title}" (pid ${p.pid}, started ${p.startedAt})`),
    ...unreadable.map((b) => `${b.file}: ${b.error}`),
  ];
  const n = dead.length + unreadable.length;
  return {
    id: 'unfinished-plans',
    verdict: 'fail',
    title: `${n} unfinished plan${n > 1 ? 's' : ''} in ${stateDir}: ${parts.join('; ')}${inProgress}`,
    why,
    fix: {
      summary: [
        ...(dead.length ? ['Run `hostnic recover`: it undoes what those plans did (or completes a plan that only missed its record).'
          + ` A plan you settled by hand: \`hostnic recover --abandon ${dead.map((p) => p.id).join('|')}\` drops it.`] : []),
        ...(unreadable.length ? [`Move the unreadable journal file${unreadable.length > 1 ? 's' : ''} aside (${unreadable.map((b) => b.file).join(', ')}) after checking what it did.`] : []),
      ].join('\n'),
      steps: [],
    },
  };
}

export const unfinishedPlans: DoctorCheck = {
  id: 'unfinished-plans',
  run: (view) => checkUnfinishedPlans(view.paths.stateDir, view.paths.proc),
};
