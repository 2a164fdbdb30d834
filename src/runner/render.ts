/**
 * How the runner shows its steps: listr2's task list, or, when nothing is to
 * be shown (--quiet, --json), the same sequence without loading listr2.
 * Also the dry-run description of a plan.
 */
import type { ListrRendererValue } from 'listr2';
import { render } from '../exec.js';
import { capture, doCommands } from '../steps/index.js';
import type { DryRunPlan, Plan, Renderer } from './types.js';

export interface Task {
  title: string;
  task: () => Promise<void>;
}

/** Run tasks in order under a title; the first failure stops the list and is thrown. */
export async function runTasks(renderer: Renderer, title: string, tasks: Task[]): Promise<void> {
  if (renderer === 'silent') {
    // About 30 ms of start-up that scripts attaching NICs at boot would pay for nothing.
    for (const t of tasks) await t.task();
    return;
  }
  const { Listr } = await import('listr2');
  await new Listr(
    [{ title, task: (_ctx, task) => task.newListr(tasks, { exitOnError: true, concurrent: false }) }],
    {
      renderer: renderer as ListrRendererValue,
      registerSignalListeners: false,
      exitOnError: true,
      rendererOptions: { collapseSubtasks: false, showErrorMessage: true },
    },
  ).run();
}

/**
 * Set up the task-list renderer now, while hostnic waits for a child process:
 * its modules' set-up (a few ms of CPU) then runs beside the child instead of
 * after it. Nothing to set up when the renderer is silent.
 */
export function warmRenderer(renderer: Renderer): void {
  if (renderer !== 'silent') import('listr2').catch(() => undefined);
}

export function describeDryRun(plan: Plan): DryRunPlan {
  return {
    title: plan.title,
    steps: plan.steps.map((s) => ({ title: s.title, commands: doCommands(s).map(render) })),
  };
}

/** For dry-run: fill in what each capture would read now (read-only). */
export async function previewCaptures(plan: Plan): Promise<void> {
  for (const step of plan.steps) {
    try { step.saved = await capture(step); } catch { /* a link not there yet: nothing to show */ }
  }
}
