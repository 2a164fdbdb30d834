/**
 * The step contract. A step is plain data (kind + params), so a journal
 * written by one hostnic process can be undone by another (`hostnic recover`).
 * The behaviour of each kind lives in one StepKind object with `apply` and
 * `undo` side by side.
 */
import type { Cmd } from '../exec.js';

export interface StepSpec<P = unknown, S = unknown> {
  /** Key into the registry of kinds (steps/index.ts). */
  kind: string;
  /** What the task list shows. */
  title: string;
  /** What the task list shows when the step is undone (or run as an inverse). */
  undoTitle?: string;
  params: P;
  /** Run the kind backwards: `undo` is the action and `apply` restores. */
  inverse?: boolean;
  /** What `capture` read before the step ran (for an inverse step: the original step's). */
  saved?: S;
}

export interface StepKind<P = any, S = any> {
  /** Read, just before applying, what undo will need. Read-only. */
  capture?(params: P): Promise<S>;
  /** Whether this step's capture must read the system (default: yes, when there is one); one that need not can share an `ip -batch`. */
  needsCapture?(params: P): boolean;
  /** The commands that make the change. Pure: no I/O. */
  apply(params: P, saved: S | undefined): Cmd[];
  /** The commands that revert it. Pure; each should tolerate "already reverted". */
  undo(params: P, saved: S | undefined): Cmd[];
  /**
   * A read-only check before the commands of one direction run; it throws to
   * refuse (for example: never delete a namespace that still holds a NIC).
   */
  preflight?(params: P, action: 'apply' | 'undo', when: { rollback: boolean }): Promise<void>;
}
