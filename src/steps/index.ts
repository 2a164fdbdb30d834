/** The registry of step kinds: journals name kinds by these keys, so keys never change meaning. */
import { addrAdd } from './addr.js';
import { dhcpClient, dhcpLease } from './dhcp.js';
import { fileWrite } from './file.js';
import { nmManaged, nmReload } from './nm.js';
import { networkdReload } from './networkd.js';
import { linkMove, linkSet } from './link.js';
export { Misplaced } from './link.js';
export { nsGone, withPlanNamespaces } from './link.js';
import { linkMaster } from './master.js';
import { macvlanCreate } from './macvlan.js';
import { neighAdd } from './neigh.js';
import { netnsAdd } from './netns.js';
import { routeAdd, routeDefault } from './route.js';
import { sysctlAnnounce, sysctlSet } from './sysctl.js';
import type { KindName, ParamsOf, PreflightWhen, SavedById, SavedOf, StepKind, StepSpec } from './types.js';
import type { Cmd } from '../exec.js';

type Registry = { [K in KindName]: StepKind<ParamsOf<K>, SavedOf<K>> };

const KINDS: Registry = {
  'netns.add': netnsAdd,
  'link.move': linkMove,
  'link.set': linkSet,
  'addr.add': addrAdd,
  'route.add': routeAdd,
  'route.default': routeDefault,
  'neigh.add': neighAdd,
  'link.master': linkMaster,
  'sysctl.set': sysctlSet,
  'sysctl.announce': sysctlAnnounce,
  'file.write': fileWrite,
  'nm.managed': nmManaged,
  'nm.reload': nmReload,
  'networkd.reload': networkdReload,
  'macvlan.create': macvlanCreate,
  'dhcp.client': dhcpClient,
  'dhcp.lease': dhcpLease,
};

/** The kind of a step, typed by it (a journal from a newer hostnic may name a kind this one does not know). */
function kindOf<K extends KindName>(step: StepSpec<K>): Registry[K] {
  const kind = Object.hasOwn(KINDS, step.kind) ? KINDS[step.kind] : undefined;
  if (!kind) throw new Error(`unknown step kind "${String(step.kind)}" (journal from a newer hostnic?)`);
  return kind;
}

/** Commands that perform the step (its undo, for an inverse step). */
export function doCommands<K extends KindName>(step: StepSpec<K>): Cmd[] {
  const k: StepKind<ParamsOf<K>, SavedOf<K>> = kindOf(step);
  if (step.leave !== undefined) return [];
  return step.inverse ? k.undo(step.params, step.saved) : k.apply(step.params, step.saved);
}

/** Commands that revert the step. */
export function undoCommands<K extends KindName>(step: StepSpec<K>): Cmd[] {
  const k: StepKind<ParamsOf<K>, SavedOf<K>> = kindOf(step);
  if (step.leave !== undefined) return [];
  return step.inverse ? k.apply(step.params, step.saved) : k.undo(step.params, step.saved);
}

/** The kind's read-only check before the step runs forwards (`forward`) or is undone. */
export async function preflight<K extends KindName>(step: StepSpec<K>, forward: boolean, look?: PreflightWhen['look']): Promise<void> {
  const k: StepKind<ParamsOf<K>, SavedOf<K>> = kindOf(step);
  if (step.leave !== undefined) return;
  const applying = forward !== !!step.inverse;
  return k.preflight?.(step.params, applying ? 'apply' : 'undo', { rollback: !forward, ...(look ? { look } : {}) });
}

/**
 * The step as its undo must run now, in a rollback or `recover`: its kind
 * re-reads where its subject is (steps/types.ts `relocate`). null: nothing
 * to undo (already so, or its namespace is gone).
 */
export async function relocated<S extends StepSpec>(step: S): Promise<S | null> {
  const k = kindOf(step) as StepKind;
  if (step.leave !== undefined || !k.relocate) return step;
  const params = await k.relocate(step.params, step.inverse ? 'apply' : 'undo');
  return params === null ? null : { ...step, params };
}

/** In a rollback, after the step was reverted: is what it moved or renamed where the rollback put it? (StepKind.settled) */
export async function settled<K extends KindName>(step: StepSpec<K>): Promise<void> {
  const k: StepKind<ParamsOf<K>, SavedOf<K>> = kindOf(step);
  if (step.leave !== undefined) return;
  return k.settled?.(step.params, step.inverse ? 'apply' : 'undo');
}

/** Whether running the step forwards must first read the system (so it cannot share a batch). */
export function mustCapture<K extends KindName>(step: StepSpec<K>): boolean {
  const k: StepKind<ParamsOf<K>, SavedOf<K>> = kindOf(step);
  return !step.inverse && step.leave === undefined && !!k.capture && (k.needsCapture?.(step.params) ?? true);
}

/** Read what undo will need, unless an inverse step already carries it. */
export async function capture<K extends KindName>(step: StepSpec<K>): Promise<SavedOf<K> | undefined> {
  const k: StepKind<ParamsOf<K>, SavedOf<K>> = kindOf(step);
  if (step.inverse || step.leave !== undefined || !k.capture) return step.saved;
  return k.capture(step.params);
}

/** Swap a step's direction, keeping what it saved. */
export function invert<S extends StepSpec>(step: S): S {
  return { ...step, inverse: !step.inverse, title: undoTitle(step), undoTitle: step.title };
}

export function undoTitle(step: StepSpec): string {
  return step.undoTitle ?? `Undo: ${step.title}`;
}

/** What a finished plan's steps saved, by step id (the `saved` of a record). */
export function savedById(steps: readonly StepSpec[]): SavedById {
  const out: SavedById = {};
  for (const s of steps) if (s.saved !== undefined) out[s.id] = s.saved;
  return out;
}

/**
 * Give a step back what it saved when it ran, found by its id in a record.
 * The one place where a record's data becomes a step's typed `saved`: the
 * record was written from this step's own capture (schema-checked on read).
 */
export function withSaved<S extends StepSpec>(step: S, saved: SavedById): S {
  if (!Object.hasOwn(saved, step.id)) return step;
  return { ...step, saved: saved[step.id] as S['saved'] };
}

/** Ids must be unique in a plan: a record keys what steps saved by them. */
export function checkIds(steps: readonly StepSpec[]): void {
  const seen = new Set<string>();
  for (const s of steps) {
    if (seen.has(s.id)) throw new Error(`internal: step id "${s.id}" twice in one plan`);
    seen.add(s.id);
  }
}

/** Build a step: `kind` fixes the type of `params`. */
export function makeStep<K extends KindName>(
  kind: K, id: string, title: string, params: ParamsOf<K>, more: { undoTitle?: string; inverse?: boolean } = {},
): StepSpec<K> {
  // TypeScript cannot see that a generic K picks matching kind and params; the signature guarantees it.
  const step = { kind, id, title, params } as StepSpec<K>;
  if (more.undoTitle !== undefined) step.undoTitle = more.undoTitle;
  if (more.inverse) step.inverse = true;
  return step;
}

/** What a plan leaves as it found it, and why (to print). */
export function leftAlone(steps: readonly StepSpec[]): string[] {
  return steps.flatMap((s) => (s.leave !== undefined ? [s.leave] : s.kind === 'dhcp.lease' && s.params.leaveDefault !== undefined ? [s.params.leaveDefault] : []));
}

const norm = (v: string | null | undefined): string | null | undefined => (typeof v === 'string' ? v.trim().split(/\s+/).join(' ') : v);

/**
 * For an undo plan (inverse steps) of changes made long ago: mark each step
 * whose subject is no longer what the step made it (a person changed it
 * since) to be left, with why. Steps on one subject are followed in order:
 * once an earlier one is undone, the subject is what that undo makes it.
 * Reads the system; steps of kinds without `watch` are kept as they are.
 */
export async function leaveChanged(steps: readonly StepSpec[]): Promise<StepSpec[]> {
  const now = new Map<string, string | null | undefined>();
  const out: StepSpec[] = [];
  for (const step of steps) {
    const w = (kindOf(step) as StepKind).watch;
    if (!w || !step.inverse || step.leave !== undefined) {
      out.push(step);
      continue;
    }
    const subject = w.subject(step.params);
    const value = now.has(subject) ? now.get(subject) : await w.read(step.params);
    if (value !== undefined && norm(value) !== norm(w.applied(step.params))) {
      now.set(subject, value);
      out.push({ ...step, leave: w.why(step.params, value) });
      continue;
    }
    const after = w.undone(step.params, step.saved);
    now.set(subject, after === undefined ? value : after);
    out.push(step);
  }
  return out;
}