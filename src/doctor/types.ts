/**
 * What a doctor check is: it looks at the host (read-only) and returns a
 * verdict, why it matters, and a fix as step data (`StepSpec`) that the one
 * runner applies and can undo. A fix with no steps is advice for a person
 * (its summary says exactly what to change): hostnic does not edit files
 * that belong to the admin (interfaces, netplan) or stop their processes.
 */
import type { HostPaths } from '../host/paths.js';
import type { InventoryOptions, NicDetail } from '../host/inventory.js';
import type { SysctlReader } from '../host/sysctl.js';
import type { StepSpec } from '../steps/types.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Fix {
  /** What the fix does, for people; for a fix without steps, exactly what to change by hand. */
  summary: string;
  /** Reversible steps for the runner (empty: by hand only). */
  steps: StepSpec[];
}

/** One check's finding. */
export interface Check {
  /** The check's id (its module's file name under doctor/checks/). */
  id: string;
  verdict: Verdict;
  title: string;
  why: string;
  /** The NICs the verdict is about. */
  nics?: string[];
  fix?: Fix;
}

export interface DoctorOptions extends InventoryOptions {
  /** Only these NICs for the per-NIC checks (default: every secondary NIC). */
  nics?: string[];
  /** Ask Docker about its networks (default true). */
  docker?: boolean;
}

/** What the checks look at, gathered once (doctor/view.ts). */
export interface HostView {
  netns?: string;
  paths: HostPaths;
  sysctl: SysctlReader;
  nics: NicDetail[];
  /** The NICs the per-NIC checks consider: secondary ones (optionally those named). */
  candidates: NicDetail[];
  /** Named NICs that are skipped because they carry the default route. */
  skippedPrimary: string[];
}

/** A check as the registry (doctor/index.ts) lists it. */
export interface DoctorCheck {
  id: string;
  /** Look at the host; null: nothing to report (the check does not apply here). */
  run(view: HostView, opts: DoctorOptions): Check | null | Promise<Check | null>;
}
