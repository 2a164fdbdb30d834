/**
 * A macvlan child of a host NIC, created straight into a container's
 * namespace (`attach --macvlan`). Its undo deletes it wherever it is now,
 * found by its MAC: a rollback or a detach leaves no child anywhere.
 */
import { links } from '../kernel/ip.js';
import type { Cmd } from '../exec.js';
import { nsArg, nsGone, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface MacvlanParams {
  /** The parent NIC, in the host (hostnic's own namespace); it is never changed. */
  parent: string;
  /** Where the child is created (the container), and its name, MAC and mode there. */
  ns: NsRef;
  name: string;
  mac: string;
  mode: 'bridge' | 'private' | 'vepa';
  /** Absent: the parent's MTU, as the kernel gives it. */
  mtu?: number;
}

/** The macvlan links with that MAC in `ns` (none when `ns` is gone). Only macvlan: never the parent, whatever its MAC. */
async function childrenWithMac(ns: NsRef, mac: string): Promise<{ ifname: string }[]> {
  if (nsGone(ns)) return [];
  const all = await links(nsArg(ns)).catch((e: unknown) => { if (nsGone(ns)) return []; throw e; });
  return all.filter((l) => l.linkinfo?.info_kind === 'macvlan' && (l.address ?? '').toLowerCase() === mac.toLowerCase());
}

/** Where the child is now: its namespace first, then the host (the child of a rolled-back move, or one a person moved). */
async function findChild(p: MacvlanParams): Promise<{ ns: NsRef; name: string } | undefined> {
  for (const ns of p.ns === null ? [null] : [p.ns, null]) {
    const [hit] = await childrenWithMac(ns, p.mac);
    if (hit) return { ns, name: hit.ifname };
  }
  return undefined;
}

const createCmd = (p: MacvlanParams): Cmd => ({
  // Created in the host's namespace (where the parent is) straight into the
  // container: the host's udev and network managers never see the child.
  argv: ['ip', 'link', 'add', 'link', p.parent, 'name', p.name, ...(p.ns === null ? [] : ['netns', p.ns]),
    'address', p.mac, ...(p.mtu !== undefined ? ['mtu', String(p.mtu)] : []), 'type', 'macvlan', 'mode', p.mode],
});

const deleteCmd = (p: MacvlanParams): Cmd => ({
  argv: ['ip', 'link', 'del', 'dev', p.name],
  netns: nsArg(p.ns),
  idempotent: /Cannot find device/,
  // Only ours: a macvlan child with our MAC under that name (or none).
  rollbackGuard: async () => {
    const l = (await links(nsArg(p.ns))).find((x) => x.ifname === p.name);
    return !l || (l.linkinfo?.info_kind === 'macvlan' && (l.address ?? '').toLowerCase() === p.mac.toLowerCase());
  },
});

export const macvlanCreate: StepKind<MacvlanParams> = {
  apply: (p) => [createCmd(p)],
  undo: (p) => [deleteCmd(p)],
  /**
   * Deleting: the child wherever it is, by MAC (renamed in the container,
   * or anywhere the rollback can see); not found, or its namespace gone
   * (the kernel destroyed it): nothing to do. Creating again (a detach
   * rolled back): not when it is still there, or its namespace is gone.
   */
  async relocate(p, action) {
    if (nsGone(p.ns)) return null;
    const at = await findChild(p);
    if (action === 'apply') return at ? null : p;
    return at ? { ...p, ns: at.ns, name: at.name } : null;
  },
};
