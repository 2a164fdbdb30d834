/** What reconcile did, per entry and per unwanted attachment: data, rendered by `hostnic apply` and logged by `hostnic watch`. */
import type { DryRunPlan, Leftover } from '../runner.js';

/**
 * - `in-place`: nothing to do, nothing ran that changes the system;
 * - `attached`: the NIC was not attached (or its container restarted) and now is;
 * - `repaired`: hostnic's own settings had drifted and were put back;
 * - `skipped`: not applied now (`why`: the container is not running, the NIC is not on the host, a physical
 *   NIC is not back yet from the container's earlier namespace, its runtime does not answer (exit 1: it could
 *   not be checked), interrupted);
 * - `failed`: tried, and the plan was rolled back (`exitCode` 1), or not completely (3).
 */
export type EntryAction = 'in-place' | 'attached' | 'repaired' | 'skipped' | 'failed';

export type SkipReason = 'container-not-running' | 'nic-missing' | 'nic-returning' | 'runtime-unavailable' | 'interrupted';

export interface EntryResult {
  line: number;
  container: string;
  nic: string;
  action: EntryAction;
  /** One line: what was done, or why not. */
  detail: string;
  why?: SkipReason;
  /** hostnic's own settings that had drifted (repaired, or would be in a dry run). */
  drift?: string[];
  /** What was changed besides hostnic's settings: reported, not undone. */
  besides?: string[];
  /** 0; 1 failed and rolled back, or the NIC is missing; 3 incomplete. */
  exitCode: number;
  error?: string;
  leftovers?: Leftover[];
  /** The attachment's record id and container-side name, once attached. */
  id?: string;
  ctrName?: string;
  /** With dryRun: the plans that would run. */
  plans?: DryRunPlan[];
}

/** An attachment hostnic made that no entry wants. */
export interface UnwantedResult {
  id: string;
  nic: string;
  target: string;
  /** `listed`: left (no --prune); `detached`; `failed`. */
  action: 'listed' | 'detached' | 'failed';
  detail: string;
  exitCode: number;
  leftovers?: Leftover[];
  plans?: DryRunPlan[];
}

export interface ReconcileReport {
  path: string;
  dryRun: boolean;
  entries: EntryResult[];
  unwanted: UnwantedResult[];
  /** 0 all in place or waiting for their container; 1 an entry failed or names a missing NIC; 3 incomplete. */
  exitCode: number;
  /** Interrupted: the entries not started are `skipped` (why: interrupted). */
  signal?: NodeJS.Signals;
}

export interface ReconcileOptions {
  /** Only the entries of these containers, as the file names them (`docker:web`). */
  containers?: string[];
  prune?: boolean;
  dryRun?: boolean;
}
