/** The registry of step kinds: journals name kinds by these keys, so keys never change meaning. */
import { addrAdd } from './addr.js';
import { fileWrite } from './file.js';
import { nmManaged, nmReload } from './nm.js';
import { networkdReload } from './networkd.js';
import { linkMove, linkSet } from './link.js';
import { netnsAdd } from './netns.js';
import { routeAdd, routeDefault } from './route.js';
import { sysctlAnnounce, sysctlSet } from './sysctl.js';
import type { StepKind, StepSpec } from './types.js';
import type { Cmd } from '../exec.js';

const KINDS: Record<string, StepKind> = {
  'netns.add': netnsAdd,
  'link.move': linkMove,
  'link.set': linkSet,
  'addr.add': addrAdd,
  'route.add': routeAdd,
  'route.default': routeDefault,
  'sysctl.set': sysctlSet,
  'sysctl.announce': sysctlAnnounce,
  'file.write': fileWrite,
  'nm.managed': nmManaged,
  'nm.reload': nmReload,
  'networkd.reload': networkdReload,
};

export function kindOf(step: StepSpec): StepKind {
  const kind = KINDS[step.kind];
  if (!kind) throw new Error(`unknown step kind "${step.kind}" (journal from a newer hostnic?)`);
  return kind;
}

/** Commands that perform the step (its undo, for an inverse step). */
export function doCommands(step: StepSpec): Cmd[] {
  const k = kindOf(step);
  return step.inverse ? k.undo(step.params, step.saved) : k.apply(step.params, step.saved);
}

/** Commands that revert the step. */
export function undoCommands(step: StepSpec): Cmd[] {
  const k = kindOf(step);
  return step.inverse ? k.apply(step.params, step.saved) : k.undo(step.params, step.saved);
}

/** The kind's read-only check before the step runs forwards (`forward`) or is undone. */
export async function preflight(step: StepSpec, forward: boolean): Promise<void> {
  const k = kindOf(step);
  const applying = forward !== !!step.inverse;
  return k.preflight?.(step.params, applying ? 'apply' : 'undo', { rollback: !forward });
}

/** Whether running the step forwards must first read the system (so it cannot share a batch). */
export function mustCapture(step: StepSpec): boolean {
  const k = kindOf(step);
  return !step.inverse && !!k.capture && (k.needsCapture?.(step.params) ?? true);
}

/** Read what undo will need, unless an inverse step already carries it. */
export async function capture(step: StepSpec): Promise<unknown> {
  const k = kindOf(step);
  if (step.inverse || !k.capture) return step.saved;
  return k.capture(step.params);
}

/** Swap a step's direction, keeping what it saved. */
export function invert(step: StepSpec): StepSpec {
  return { ...step, inverse: !step.inverse, title: undoTitle(step), undoTitle: step.title };
}

export function undoTitle(step: StepSpec): string {
  return step.undoTitle ?? `Undo: ${step.title}`;
}
