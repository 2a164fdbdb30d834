/** Moving a link between namespaces, and setting its name, MAC, MTU, alias and up state. */
import { links, ownNetns } from '../kernel/ip.js';
import type { Cmd } from '../exec.js';
import type { StepKind } from './types.js';

/** A namespace as a step names it: a path, or null for the one hostnic runs in. */
export type NsRef = string | null;

/** Resolve a namespace reference for a command (null: hostnic's own, so no wrapper). */
export function nsArg(ns: NsRef): string | undefined {
  return ns ?? undefined;
}

/** The path that names a namespace as the destination of `ip link set netns`. */
function nsDest(ns: NsRef): string {
  return ns ?? ownNetns();
}

const NOT_FOUND = /Cannot find device/;

export interface MoveParams {
  /** Link name (the same on both sides: renames are separate steps). */
  name: string;
  /** Its MAC: in a rollback, a link of that name with another MAC is not ours. */
  mac?: string;
  from: NsRef;
  to: NsRef;
}

const moveCmd = (name: string, from: NsRef, to: NsRef): Cmd => ({
  argv: ['ip', 'link', 'set', 'dev', name, 'netns', nsDest(to)],
  netns: nsArg(from),
});

export const linkMove: StepKind<MoveParams> = {
  // In a rollback the link may never have left where it was: not found is fine then.
  apply: (p) => [{ ...moveCmd(p.name, p.from, p.to), idempotent: NOT_FOUND }],
  undo: (p) => [{ ...moveCmd(p.name, p.to, p.from), idempotent: NOT_FOUND }],
  // A rollback after a crash does not know whether the move happened. Move
  // only the link that is ours: right name and MAC where it should be.
  async preflight(p, action, { rollback }) {
    if (!rollback || !p.mac) return;
    const where = action === 'apply' ? p.from : p.to;
    const found = (await links(where ?? undefined)).find((l) => l.ifname === p.name);
    if (!found || (found.address ?? '').toLowerCase() !== p.mac) return 'skip';
  },
};

export interface LinkAttrs {
  name?: string;
  mac?: string;
  mtu?: number;
  alias?: string;
  up?: boolean;
}

export interface SetParams {
  ns: NsRef;
  /** Attributes before and after: only the keys present in `to` are changed. */
  from: LinkAttrs & { name: string };
  to: LinkAttrs;
}

function setCmd(ns: NsRef, current: string, attrs: LinkAttrs): Cmd {
  const argv = ['ip', 'link', 'set', 'dev', current];
  if (attrs.name !== undefined && attrs.name !== current) argv.push('name', attrs.name);
  if (attrs.mac !== undefined) argv.push('address', attrs.mac);
  if (attrs.mtu !== undefined) argv.push('mtu', String(attrs.mtu));
  if (attrs.alias !== undefined) argv.push('alias', attrs.alias);
  if (attrs.up !== undefined) argv.push(attrs.up ? 'up' : 'down');
  // One netlink message with several attributes can fail after applying some.
  return { argv, netns: nsArg(ns), idempotent: NOT_FOUND, partial: argv.length > 7 };
}

/** The old values of exactly the attributes that `to` changes. */
function previous(p: SetParams): LinkAttrs {
  const old: LinkAttrs = {};
  for (const key of Object.keys(p.to) as (keyof LinkAttrs)[]) {
    (old as Record<string, unknown>)[key] = p.from[key] ?? (key === 'alias' ? '' : undefined);
  }
  return old;
}

export const linkSet: StepKind<SetParams> = {
  apply: (p) => [setCmd(p.ns, p.from.name, p.to)],
  undo: (p) => [setCmd(p.ns, p.to.name ?? p.from.name, { ...previous(p), name: p.from.name })],
};
