/** The runner's data: a plan, its journal on disk, and what a run comes to. */
import type { StepSpec } from '../steps/types.js';
import type { SCHEMA } from '../state.js';

export type StepState = 'pending' | 'applying' | 'done' | 'undoing' | 'undone' | 'undo-failed';

export interface Finalize {
  /**
   * Records to write, paths relative to the state directory. With `saved`,
   * the value gets a `saved` field: what the steps captured, by step id (over the value's own `saved`, if it has one).
   */
  write?: { path: string; value: Record<string, unknown>; saved?: boolean }[];
  /** Records to remove, paths relative to the state directory. */
  remove?: string[];
}

export interface Plan {
  id: string;
  command: string;
  title: string;
  steps: StepSpec[];
  /**
   * Identities this plan touches (NIC names and MACs, doctor's host-wide
   * token): the runner refuses the plan while another unfinished plan touches
   * one of them, and runs it only while this process holds their locks.
   */
  touches: string[];
  finalize: Finalize;
}

export interface Journal {
  schema: typeof SCHEMA;
  id: string;
  command: string;
  title: string;
  pid: number;
  /** Start time of `pid` (field 22 of /proc/PID/stat, clock ticks since boot): tells it from a reused pid. */
  pidStart?: number;
  startedAt: string;
  phase: 'apply' | 'rollback';
  touches: string[];
  /** The locks the plan ran under (src/runner/locks.ts): recover takes them again. */
  locks: string[];
  finalize: Finalize;
  steps: { spec: StepSpec; state: StepState; error?: string }[];
}

export type Renderer = 'default' | 'simple' | 'silent';

export interface Leftover {
  title: string;
  error: string;
  commands: string[];
}

export interface Outcome {
  exitCode: number;
  error?: Error;
  leftovers: Leftover[];
  /** The plan finished, but these commands of best-effort steps failed (exit 3). */
  notDone?: Leftover[];
  signal?: NodeJS.Signals;
  /** In dry-run: the plan as it would run. */
  dryRun?: DryRunPlan;
}

export interface DryRunPlan {
  title: string;
  steps: { title: string; commands: string[] }[];
}
