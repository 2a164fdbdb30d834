/**
 * The step contract. A step is plain data (kind + id + params), so a journal
 * written by one hostnic process can be undone by another (`hostnic recover`).
 * The behaviour of each kind lives in one StepKind object with `apply` and
 * `undo` side by side; the kinds are registered in steps/index.ts.
 *
 * `StepTypes` names every kind with the types of its params and of what its
 * capture saves, so `kind` selects both: `StepSpec<'sysctl.set'>` has
 * SysctlParams, and a `StepSpec` narrowed by `step.kind === 'link.set'` has
 * SetParams, with no cast.
 */
import type { Cmd } from '../exec.js';
import type { AddrParams } from './addr.js';
import type { FileWriteParams, FileWriteSaved } from './file.js';
import type { MoveParams, SetParams } from './link.js';
import type { MacvlanParams } from './macvlan.js';
import type { MasterParams } from './master.js';
import type { NeighParams } from './neigh.js';
import type { NetnsParams } from './netns.js';
import type { NetworkdReloadParams } from './networkd.js';
import type { NmManagedParams, NmManagedSaved, NmReloadParams } from './nm.js';
import type { DhcpClientParams, DhcpLeaseParams } from './dhcp.js';
import type { DhcpLease } from '../dhcp/lease.js';
import type { DefaultParams, DefaultSaved, RoutesParams } from './route.js';
import type { AnnounceParams, SysctlParams, SysctlSaved } from './sysctl.js';

/** Journals and records name kinds by these keys: a key never changes meaning. */
export interface StepTypes {
  'netns.add': { params: NetnsParams; saved: undefined };
  'link.move': { params: MoveParams; saved: undefined };
  'link.set': { params: SetParams; saved: undefined };
  'addr.add': { params: AddrParams; saved: undefined };
  'route.add': { params: RoutesParams; saved: undefined };
  'neigh.add': { params: NeighParams; saved: undefined };
  'link.master': { params: MasterParams; saved: undefined };
  'route.default': { params: DefaultParams; saved: DefaultSaved };
  'sysctl.set': { params: SysctlParams; saved: SysctlSaved };
  'sysctl.announce': { params: AnnounceParams; saved: undefined };
  'file.write': { params: FileWriteParams; saved: FileWriteSaved };
  'nm.managed': { params: NmManagedParams; saved: NmManagedSaved };
  'nm.reload': { params: NmReloadParams; saved: undefined };
  'networkd.reload': { params: NetworkdReloadParams; saved: undefined };
  'macvlan.create': { params: MacvlanParams; saved: undefined };
  'dhcp.client': { params: DhcpClientParams; saved: undefined };
  'dhcp.lease': { params: DhcpLeaseParams; saved: DhcpLease };
}

export type KindName = keyof StepTypes;
export type ParamsOf<K extends KindName> = StepTypes[K]['params'];
export type SavedOf<K extends KindName> = StepTypes[K]['saved'];

type SpecMap = {
  [K in KindName]: {
    /** Key into the registry of kinds (steps/index.ts). */
    kind: K;
    /**
     * Unique in its plan and derived from the plan's input (`host.routes4`,
     * `move`, `ctr.default4`): a record keeps what each step saved under
     * this id, and detach finds it there.
     */
    id: string;
    /** What the task list shows. */
    title: string;
    /** What the task list shows when the step is undone (or run as an inverse). */
    undoTitle?: string;
    params: ParamsOf<K>;
    /** Run the kind backwards: `undo` is the action and `apply` restores. */
    inverse?: boolean;
    /**
     * Left as found, and why: what the step would change was changed by a
     * person since hostnic made it (a default route, a sysctl, a file), so
     * the step changes nothing, in either direction (and says so).
     */
    leave?: string;
    /** What `capture` read before the step ran (for an inverse step: the original step's). */
    saved?: SavedOf<K>;
    /**
     * Run forwards, a command of it that fails does not stop the plan: the
     * others still run, the plan finishes, and what failed is reported with
     * its commands (exit 3). For what detach restores on the host once the
     * NIC is home: a route must never keep the NIC in the container.
     */
    bestEffort?: boolean;
  };
};

/** A step: one of the kinds, `kind` selecting the types of `params` and `saved`. */
export type StepSpec<K extends KindName = KindName> = SpecMap[K];

/** What the steps of a plan saved, by step id (records keep it so). */
export type SavedById = Record<string, unknown>;

/**
 * When a preflight runs. `look`: the reads of the steps of one `ip -batch`,
 * shared: nothing runs between their preflights and the batch, so two steps
 * asking the same question of the kernel get one read (one process).
 */
export interface PreflightWhen {
  rollback: boolean;
  look?: Map<string, Promise<unknown>>;
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
  preflight?(params: P, action: 'apply' | 'undo', when: PreflightWhen): Promise<void>;
  /**
   * For a rollback or `recover`: where the step's subject is now, read
   * before the direction `action` runs (a crash, or a namespace that died,
   * may have left it elsewhere than the plan assumed: a NIC that came back
   * to the host as devN). Returns the params to run with, or null when
   * there is nothing to do (already so, or its namespace is gone).
   * Read-only. Without it, the params are used as they are.
   */
  relocate?(params: P, action: 'apply' | 'undo'): Promise<P | null>;
  /**
   * In a rollback, after the step was reverted (`action`: the direction the
   * rollback ran): a read-only check that its subject is where those
   * commands put it. Their "already so" (no such device) can hide a link
   * someone renamed or moved meanwhile; this throws steps/link.ts Misplaced,
   * saying where it is and with the commands that finish from there.
   */
  settled?(params: P, action: 'apply' | 'undo'): Promise<void>;
  /**
   * For undoing a change made long ago (doctor --undo): the one thing the
   * step changes, how to read it now, what apply made it, and what undo
   * makes it. steps/index.ts leaveChanged() compares them.
   */
  watch?: Watch<P, S>;
}

export interface Watch<P, S> {
  /** What the step changes (two steps with one subject change the same thing). */
  subject(params: P): string;
  /** Its value now; null: absent; undefined: cannot tell (then it is not called changed). */
  read(params: P): Promise<string | null | undefined>;
  /** Its value once applied. */
  applied(params: P): string | null;
  /** Its value once undone (undefined: as it was, undo changes nothing). */
  undone(params: P, saved: S | undefined): string | null | undefined;
  /** Why it is left, given what it is now. */
  why(params: P, now: string | null): string;
}
