/** Moving a link between namespaces, and setting its name, MAC, MTU, alias and up state. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync } from 'node:fs';
import { lastingOwnNetns, links, netnsId, type Link } from '../kernel/ip.js';
import { readJson } from '../exec.js';
import { RefusedError } from '../errors.js';
import type { Cmd } from '../exec.js';
import type { PreflightWhen, StepKind } from './types.js';

/** A namespace as a step names it: a path, or null for the one hostnic runs in. */
export type NsRef = string | null;

/** Resolve a namespace reference for a command (null: hostnic's own, so no wrapper). */
export function nsArg(ns: NsRef): string | undefined {
  return ns ?? undefined;
}

/**
 * The path that names a namespace as the destination of `ip link set netns`:
 * one that stays valid after hostnic exits, since a rollback prints these
 * commands for a person to run by hand.
 */
function nsDest(ns: NsRef): string {
  return ns ?? lastingOwnNetns();
}

const NOT_FOUND = /Cannot find device/;

/** The namespaces (device:inode) the plan running in this async context locked: runner.ts withPlanNamespaces. */
const planNamespaces = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Run `fn` knowing which namespaces the plan is about (its `ns:` lock keys).
 * A `/proc/PID/ns/net` path then counts as gone when it names another
 * namespace: the container died and its pid went to another process, maybe
 * one in the host's own namespace, where an undo must never run.
 */
export function withPlanNamespaces<T>(ids: readonly string[], fn: () => Promise<T>): Promise<T> {
  return ids.length ? planNamespaces.run(new Set(ids), fn) : fn();
}

const BY_PID = /^\/proc\/\d+\/ns\/net$/;

/** A namespace that no longer exists (its last process died, its name was deleted, its pid names another); hostnic's own never is. */
export function nsGone(ns: NsRef | undefined): boolean {
  if (!ns) return false;
  if (!existsSync(ns)) return true;
  const known = planNamespaces.getStore();
  if (!known || !BY_PID.test(ns)) return false;
  try {
    return !known.has(netnsId(ns));
  } catch {
    return true; // the process ended between the two looks
  }
}

/**
 * Where a NIC is now, found by its MAC(s): in the first of `spaces` that has
 * it (a namespace that is gone has nothing). The host (null) is searched last
 * whether listed or not: a NIC whose namespace died comes back there, under
 * its name or as devN.
 */
export async function findNic(spaces: NsRef[], macs: string[]): Promise<{ ns: NsRef; name: string; ifindex: number } | undefined> {
  const want = new Set(macs.map((m) => m.toLowerCase()));
  for (const ns of [...new Set([...spaces.filter((s) => s !== null), null])]) {
    if (nsGone(ns)) continue;
    const list = await links(ns ?? undefined).catch((e: unknown) => { if (nsGone(ns)) return []; throw e; });
    const found = list.find((l) => l.ifname !== 'lo' && want.has((l.address ?? '').toLowerCase()));
    if (found) return { ns, name: found.ifname, ifindex: found.ifindex };
  }
  return undefined;
}

export interface MoveParams {
  /** Link name (the same on both sides: renames are separate steps). */
  name: string;
  /** Its MAC: in a rollback, a link of that name with another MAC is not ours. */
  mac?: string;
  /** Its ifindex in `from` when the plan was made (the move out of the host): with `mac`, who it is. */
  ifindex?: number;
  from: NsRef;
  to: NsRef;
  /**
   * Set only by `relocate`: the name it takes on arrival because its own is
   * taken there (the kernel's devIFINDEX for a NIC back from a dead namespace).
   */
  arrivesAs?: string;
}

/** In a rollback the link may never have left where it was: not found is fine then. */
const moveCmd = (p: MoveParams, from: NsRef, to: NsRef): Cmd => ({
  argv: ['ip', 'link', 'set', 'dev', p.name, 'netns', nsDest(to), ...(p.arrivesAs ? ['name', p.arrivesAs] : [])],
  netns: nsArg(from),
  idempotent: NOT_FOUND,
  // A rollback after a crash does not know whether the move happened: it
  // moves only a link that is ours (our MAC under that name).
  ...(p.mac ? { rollbackGuard: () => ours(from, p.name, [p.mac!]) } : {}),
});

export const linkMove: StepKind<MoveParams> = {
  apply: (p) => [moveCmd(p, p.from, p.to)],
  undo: (p) => [moveCmd(p, p.to, p.from)],
  /**
   * In a rollback, where the NIC is now: already where this direction takes
   * it (nothing to do); back in the host when it should be elsewhere (its
   * namespace died: it stays home, the later undos find it there); or where
   * it should be, under whatever name it has there. When the namespace it
   * should go to is gone, it goes to the host instead, as the kernel sends a
   * NIC whose namespace dies (as devIFINDEX when its name is taken there).
   */
  async relocate(p, action) {
    const [src, dst] = action === 'apply' ? [p.from, p.to] : [p.to, p.from];
    if (!p.mac) return nsGone(dst) || nsGone(src) ? null : p;
    const at = await findNic([dst, src], [p.mac]);
    if (!at) return nsGone(dst) || nsGone(src) ? null : p; // not found anywhere: the command says what it finds
    if (at.ns === dst || at.ns !== src) return null; // there already, or home in the host
    const moved = { ...p, name: at.name };
    if (!nsGone(dst)) {
      // Renamed by someone where it is: it arrives under the name this move
      // gives it (the steps undone after it address it by that name), if free.
      if (at.name === p.name || (await links(dst ?? undefined)).some((l) => l.ifname === p.name)) return moved;
      return { ...moved, arrivesAs: p.name };
    }
    if (src === null) return null; // in the host already: home
    const taken = (await links()).some((l) => l.ifname === at.name);
    const home = { ...moved, ...(taken ? { arrivesAs: `dev${at.ifindex}` } : {}) };
    return action === 'apply' ? { ...home, to: null } : { ...home, from: null };
  },
  settled: (p, action) => moveSettled(p, action),
  // Forwards only: the link under that name must still be the one the plan saw.
  preflight: async (p, action, { rollback, look }) => {
    if (action === 'apply' && !rollback && p.mac) await mustBe(p.from, p.name, p.mac, p.ifindex, look);
  },
};

/**
 * The link named `name` in `ns` must be the one the plan saw: the same MAC
 * (and ifindex, when given). Between the plan and the change, a NIC can be
 * deleted and another created under its name (a hot-unplug and plug, a veth
 * re-made by a script); acting on it would move, reconfigure or give our MAC
 * to a stranger. Read just before the change (in a batch: just before the
 * batch). Throws RefusedError; a link that is gone is left to the command.
 * `look` (the steps of one batch): the link is read once for all of them,
 * since nothing runs between their checks (a batch's steps take the link
 * down and move it: each check would read the same thing).
 */
async function mustBe(ns: NsRef, name: string, mac: string, ifindex?: number, look?: PreflightWhen['look']): Promise<void> {
  const key = `link\u0000${ns ?? ''}\u0000${name}`;
  let read = look?.get(key) as Promise<Link | undefined> | undefined;
  if (!read) {
    // Not there (the command itself reports it): undefined.
    read = readJson<Link[]>({ argv: ['ip', '-json', 'link', 'show', 'dev', name], netns: nsArg(ns) }).then((l) => l[0], () => undefined);
    look?.set(key, read);
  }
  const found = await read;
  if (!found) return;
  const now = (found.address ?? '').toLowerCase();
  if (now === mac.toLowerCase() && (ifindex === undefined || found.ifindex === ifindex)) return;
  const was = `MAC ${mac}${ifindex !== undefined ? `, ifindex ${ifindex}` : ''}`;
  throw new RefusedError(
    `${name} is not the NIC this plan was made for (it had ${was}; the link now named ${name} has MAC ${now}, ifindex ${found.ifindex}): it was replaced meanwhile, so it is left alone`,
    'look at it (ip link show), then run the command again if it is the NIC you mean',
  );
}

export interface LinkAttrs {
  name?: string;
  mac?: string;
  mtu?: number;
  alias?: string;
  up?: boolean;
}

export interface SetParams {
  ns: NsRef;
  /**
   * Attributes before and after: only the keys present in `to` are changed.
   * `from.mac` (and `from.ifindex`), when given, are also who the link is:
   * applying refuses a link under that name with another MAC or ifindex.
   */
  from: LinkAttrs & { name: string; ifindex?: number };
  to: LinkAttrs;
}

/**
 * A rename is a command of its own, first: the kernel applies a netlink
 * message's attributes one by one (MAC and MTU before the name), so a rename
 * refused because the name was taken meanwhile would leave the MAC and MTU
 * changed. Alone, it fails whole, and the step changed nothing.
 * With `macs` (the link's MAC before and after), a rollback touches the
 * link only if the one under that name is still ours.
 */
function setCmds(ns: NsRef, current: string, attrs: LinkAttrs, macs: string[]): Cmd[] {
  const guard = (dev: string): Pick<Cmd, 'rollbackGuard'> => (macs.length ? { rollbackGuard: () => ours(ns, dev, macs) } : {});
  const cmds: Cmd[] = [];
  let dev = current;
  if (attrs.name !== undefined && attrs.name !== current) {
    cmds.push({ argv: ['ip', 'link', 'set', 'dev', current, 'name', attrs.name], netns: nsArg(ns), idempotent: NOT_FOUND, ...guard(current) });
    dev = attrs.name;
  }
  const argv = ['ip', 'link', 'set', 'dev', dev];
  if (attrs.mac !== undefined) argv.push('address', attrs.mac);
  if (attrs.mtu !== undefined) argv.push('mtu', String(attrs.mtu));
  if (attrs.alias !== undefined) argv.push('alias', attrs.alias);
  if (attrs.up !== undefined) argv.push(attrs.up ? 'up' : 'down');
  // One netlink message with several attributes can fail after applying some.
  if (argv.length > 5) cmds.push({ argv, netns: nsArg(ns), idempotent: NOT_FOUND, partial: argv.length > 7, ...guard(dev) });
  return cmds;
}

/** Absent (the idempotent pattern covers that) or carrying one of our MACs. */
async function ours(ns: NsRef, name: string, macs: string[]): Promise<boolean> {
  const found = (await links(ns ?? undefined)).find((l) => l.ifname === name);
  return !found || macs.includes((found.address ?? '').toLowerCase());
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
  apply: (p) => setCmds(p.ns, p.from.name, p.to, macsOf(p)),
  undo: (p) => setCmds(p.ns, p.to.name ?? p.from.name, { ...previous(p), name: p.from.name }, macsOf(p)),
  /**
   * In a rollback, a renamed NIC is found by its MAC wherever it is now: in
   * the step's namespace under any name, or back in the host after its
   * namespace died (as its container-side name, or devN). The change is made
   * there. Its host name (undo) is who it is: taken by another link, the
   * command fails and says so. A container-side name (apply, when a detach
   * is rolled back) taken there is left out, as the kernel keeps devN.
   */
  async relocate(p, action) {
    const macs = macsOf(p);
    if (macs.length === 0) return nsGone(p.ns) ? null : p;
    const at = await findNic([p.ns], macs);
    if (!at) return nsGone(p.ns) ? null : p;
    if (action === 'undo') return { ...p, ns: at.ns, to: { ...p.to, name: at.name } };
    let to = p.to;
    if (at.ns !== p.ns && to.name !== undefined && to.name !== at.name
      && (await links(at.ns ?? undefined)).some((l) => l.ifname === to.name)) {
      const { name: _taken, ...rest } = to;
      to = rest;
    }
    return { ...p, ns: at.ns, from: { ...p.from, name: at.name }, to };
  },
  settled: (p, action) => renameSettled(p, action),
  // Forwards, with the MAC the plan saw: never rename, reconfigure or give our MAC to a link that took the name.
  preflight: async (p, action, { rollback, look }) => {
    if (action === 'apply' && !rollback && p.from.mac) await mustBe(p.ns, p.from.name, p.from.mac, p.from.ifindex, look);
  },
};

/** A renamed link's MACs, before and after: how a rollback knows it is ours. */
function macsOf(p: SetParams): string[] {
  if (p.to.name === undefined || !p.from.mac) return [];
  return [...new Set([p.from.mac, p.to.mac ?? p.from.mac].map((m) => m.toLowerCase()))];
}

/**
 * A link that a rollback did not find where it looked: its commands
 * succeeded as "already so" (no such device) while the NIC sits elsewhere,
 * renamed or moved by someone meanwhile. Says where it is, and carries the
 * commands that finish the undo from there.
 */
export class Misplaced extends Error {
  constructor(message: string, readonly commands: Cmd[]) {
    super(message);
    this.name = 'Misplaced';
  }
}

/** Kinds that share a port's MAC (a bridge takes its first port's) without being it. */
const SHARES_MAC = new Set(['bridge', 'bond', 'team', 'vlan']);

/** The links in `ns` with one of `macs`; undefined when `ns` cannot be read (gone). */
async function withMac(ns: NsRef, macs: string[]): Promise<Link[] | undefined> {
  let all: Link[];
  try {
    all = await links(nsArg(ns));
  } catch {
    return undefined;
  }
  return all.filter((l) => macs.includes((l.address ?? '').toLowerCase()) && !SHARES_MAC.has(l.linkinfo?.info_kind ?? ''));
}

const where = (ns: NsRef): string => (ns === null ? 'the host' : ns);

/**
 * After a rollback renamed a link back (or, inverse, renamed it again): it
 * must be under that name, in that namespace. The NIC found there by its MAC
 * under another name was renamed by someone: say so, with the commands from
 * the name it has. Not found there at all: the move's check looks further.
 */
async function renameSettled(p: SetParams, action: 'apply' | 'undo'): Promise<void> {
  const macs = macsOf(p);
  if (p.to.name === undefined || macs.length === 0) return;
  const [want, was] = action === 'undo' ? [p.from.name, p.to.name] : [p.to.name, p.from.name];
  const found = await withMac(p.ns, macs);
  if (found?.length === 0 && action === 'undo' && p.ns !== null && !(await withMac(null, macs))?.length) {
    // Undoing an attach's rename, in reverse order: the NIC is here, or in the
    // host if the move never ran. Neither (and this namespace still there):
    // taken where the rollback cannot see it. Left undone, so a recover after
    // a person brought it back renames it (and puts its MAC back) first.
    throw new Misplaced(
      `found no NIC with MAC ${macs.join(' or ')} in ${where(p.ns)} or the host: someone moved it to another namespace, changed its MAC or deleted it meanwhile`,
      [],
    );
  }
  if (!found || found.length === 0 || found.some((l) => l.ifname === want)) return;
  const now = found[0]!.ifname;
  const commands = action === 'undo'
    ? setCmds(p.ns, now, { ...previous(p), name: p.from.name }, macs)
    : setCmds(p.ns, now, p.to, macs);
  throw new Misplaced(
    `found no ${was} to rename to ${want} in ${where(p.ns)}: the NIC (MAC ${found[0]!.address}) is there as ${now}, renamed by someone else meanwhile`,
    commands.map(({ rollbackGuard: _g, ...c }) => c),
  );
}

/**
 * After a rollback moved a link back (or, inverse, moved it again): it must
 * not have stayed where the move should have taken it from. Found there by
 * its MAC (under a name someone gave it, so the move found nothing to move):
 * say where, with the commands that bring it. A namespace that cannot be
 * read is gone, and what was in it with it: nothing to bring back.
 */
async function moveSettled(p: MoveParams, action: 'apply' | 'undo'): Promise<void> {
  if (!p.mac) return;
  const macs = [p.mac.toLowerCase()];
  const [to, from] = action === 'undo' ? [p.from, p.to] : [p.to, p.from];
  const there = await withMac(to, macs);
  if (!there || there.some((l) => l.ifname === p.name)) return;
  const left = await withMac(from, macs);
  const rename = (ns: NsRef, now: string): Cmd => ({ argv: ['ip', 'link', 'set', 'dev', now, 'name', p.name], netns: nsArg(ns) });
  if (left?.length) {
    const now = left[0]!.ifname;
    const move = (name: string): Cmd => ({ argv: ['ip', 'link', 'set', 'dev', name, 'netns', nsDest(to)], netns: nsArg(from) });
    // Renamed where it is, if it can be: the namespace it goes to sees no rename.
    const free = !(await links(nsArg(from)).catch(() => [])).some((l) => l.ifname === p.name);
    const commands = now === p.name ? [move(now)] : free ? [rename(from, now), move(p.name)] : [move(now), rename(to, now)];
    throw new Misplaced(
      `${p.name} (MAC ${p.mac}) is not back in ${where(to)}: it is still in ${where(from)}${now === p.name ? '' : ` as ${now}, renamed by someone else meanwhile`}`,
      commands,
    );
  }
  // There under another name: the move may never have run (a step of a batch
  // cut short is undone whether or not it ran), and names are the renames'
  // to check. Undoing the move out of the host (whose MAC is the one the NIC
  // had there: the steps undone before it put it back), a NIC found nowhere
  // while the namespace is there was taken where the rollback cannot see it:
  // say so. A later move's MAC may not be the NIC's yet (a batch cut short
  // before the MAC was set): not found there says nothing.
  if (action !== 'undo' || p.from !== null || there.length > 0 || !left || (await withMac(null, macs))?.length) return;
  throw new Misplaced(
    `${p.name} (MAC ${p.mac}) is nowhere the rollback can see: not in the host, not in ${where(from)}; someone moved it to another namespace, changed its MAC or deleted it meanwhile`,
    [],
  );
}
