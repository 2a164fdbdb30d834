/** Attachment records: what attach did, so detach and status can reverse and verify it. */
import { join } from 'node:path';
import type { LinkAddrs, Route } from './kernel/ip.js';
import type { AttachInput } from './plan/attach.js';
import type { AttachRequest, NicSelector, TargetSpec } from './request/types.js';
import { describeTarget, targetAlive } from './runtime/resolve.js';
import type { Target } from './runtime/types.js';
import { SCHEMA, type StateDir, isObject } from './state.js';
import type { SavedById } from './steps/types.js';
import type { Tag } from './tag.js';

export interface AttachmentRecord {
  schema: typeof SCHEMA;
  kind: 'attachment';
  id: string;
  createdAt: string;
  input: AttachInput;
  /** What the attach steps captured, by step id (steps that captured nothing are absent). */
  saved: SavedById;
}

export function isRecord(v: unknown): v is AttachmentRecord {
  return isObject(v) && v.schema === SCHEMA && v.kind === 'attachment' && typeof v.id === 'string'
    && isObject(v.input) && isObject(v.saved);
}

export const recordPath = (id: string): string => join('attachments', `${id}.json`);

export function loadRecords(state: StateDir): { records: AttachmentRecord[]; bad: { file: string; error: string }[] } {
  const { items, bad } = state.readAll(state.attachDir, isRecord);
  return { records: items, bad };
}

/** Does a record stand for the NIC the selector names? */
export function recordMatches(r: AttachmentRecord, sel: NicSelector): boolean {
  const h = r.input.host;
  switch (sel.kind) {
    case 'name': return h.name === sel.name || r.input.ctrName === sel.name;
    case 'mac': return h.mac === sel.mac || h.permaddr === sel.mac || r.input.request.mac === sel.mac;
    case 'pci': return h.parentdev === sel.address;
  }
}

/** The parts of a request that define the result (not how the user spelled the target). */
export function sameRequest(a: AttachRequest, b: AttachRequest, ctrName: string): boolean {
  const key = (r: AttachRequest) => JSON.stringify({
    addresses: r.addresses, mac: r.mac ?? null, mtu: r.mtu ?? null, routes: r.routes,
  });
  return key(a) === key(b) && (b.name === undefined || b.name === ctrName);
}

/**
 * Does a record belong to the container the user named? With the container
 * resolved: the records of its namespace, and the records of a namespace that
 * is gone which were made for the same container (same runtime id: it was
 * restarted, so it has a new namespace) or under the same name; detach then
 * forgets them, or restores a physical NIC that came back. Unresolved (the
 * container is gone or stopped): by how the user named it.
 */
export function recordForSpec(r: AttachmentRecord, spec: TargetSpec, target?: Target): boolean {
  const t = r.input.target;
  if (target) {
    if (t.nsId === target.nsId) return true;
    if (targetAlive(t)) return false;
    const a = t.runtime;
    const b = target.runtime;
    if (a && b && a.name === b.name && a.id === b.id && a.namespace === b.namespace) return true;
  }
  if (t.display === describeTarget(spec)) return true;
  switch (spec.kind) {
    case 'pid': return t.pid === spec.pid;
    case 'path': return t.nsPath === spec.path;
    case 'netns': return t.nsPath === `/run/netns/${spec.name}`;
    default: {
      const ref = spec.kind === 'name' ? spec.name : spec.ref;
      const rt = t.runtime;
      if (!rt) return false;
      if (spec.kind !== 'name' && spec.kind !== rt.name) return false;
      if (spec.kind === 'containerd' && spec.namespace !== undefined && spec.namespace !== rt.namespace) return false;
      return rt.containerName === ref || (ref.length >= 4 && rt.id.startsWith(ref));
    }
  }
}

/**
 * What a record rebuilt from a tag does not know (the tag carries the NIC's
 * name, MAC, MTU, alias and up state only), so what its detach cannot
 * restore: keys for --json, words for people.
 */
export const UNKNOWN_WITHOUT_RECORD = {
  addresses: 'host addresses',
  routes: 'host routes through it',
  neighbours: 'permanent neighbour entries',
  sysctls: 'per-interface sysctls',
  master: 'bridge or bond it was a port of',
} as const;

/** Rebuilt from the tag on its NIC (no record file): see recordFromTag. */
export const fromTag = (r: AttachmentRecord): boolean => r.createdAt === '';

/**
 * A record rebuilt from the tag on a NIC, for when the state directory is
 * gone. It knows the host identity; host addresses and routes are not in the
 * tag, so they cannot come back (the state file has them). `seen`: what the
 * container shows of it now (observe/tagged.ts taggedView).
 */
export function recordFromTag(
  link: { ifname: string; address?: string; mtu?: number; ifalias?: string }, tag: Tag, target: Target,
  seen: { link?: LinkAddrs; defaults: Record<4 | 6, Route[]> },
): AttachmentRecord {
  const { link: withAddrs, defaults } = seen;
  const addresses: AttachRequest['addresses'] = (withAddrs?.addr_info ?? [])
    .filter((a) => a.scope !== 'link')
    .map((a) => {
      const family = a.family === 'inet' ? 4 : 6;
      const viaUs = defaults[family].find((r) => r.dev === link.ifname && r.gateway);
      return { family, address: a.local, prefix: a.prefixlen, cidr: `${a.local}/${a.prefixlen}`, ...(viaUs ? { gateway: viaUs.gateway } : {}) };
    });
  // Only one gateway per family.
  for (const f of [4, 6]) addresses.filter((a) => a.family === f && a.gateway).slice(1).forEach((a) => delete a.gateway);
  const mac = (link.address ?? '').toLowerCase();
  const request: AttachRequest = {
    target: { kind: 'path', path: target.nsPath }, nic: { kind: 'name', name: tag.name }, addresses, routes: [], force: false,
    ...(mac !== tag.mac ? { mac } : {}),
    ...(link.mtu !== undefined && link.mtu !== tag.mtu ? { mtu: link.mtu } : {}),
  };
  const input: AttachInput = {
    // The tag as it is: a rollback of this detach puts it back.
    // How it moved in is not in the tag; detach plans its way out afresh anyway.
    id: tag.id, request, target, ctrName: link.ifname, tmpNs: `hostnic-${tag.id}`, tag: link.ifalias ?? '', path: 'direct',
    host: { name: tag.name, ifindex: 0, mac: tag.mac, mtu: tag.mtu, up: tag.up, ...(tag.alias ? { alias: tag.alias } : {}), addrs: [], routes: [], sysctls: [] },
  };
  const gw = (g: string): Route[] => {
    const at = g.lastIndexOf('@');
    const gateway = g.slice(0, at);
    // `pref` marks an IPv6 route, as in `ip -json route` (kernel/ip.ts readNs).
    return [{ dst: 'default', gateway, dev: g.slice(at + 1), ...(gateway.includes(':') ? { pref: 'medium' } : {}) }];
  };
  // What the default-route steps replaced, as attach saved it.
  const saved: SavedById = {
    ...(tag.gw4 ? { 'ctr.default4': gw(tag.gw4) } : {}),
    ...(tag.gw6 ? { 'ctr.default6': gw(tag.gw6) } : {}),
  };
  return { schema: SCHEMA, kind: 'attachment', id: tag.id, createdAt: '', input, saved };
}
