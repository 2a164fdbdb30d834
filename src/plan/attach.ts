/**
 * Pure planning of an attach: from the request and what was observed of the
 * system, the list of steps. No I/O here, so the plan is unit-tested as data,
 * and detach re-derives the very same list from the record and runs it
 * backwards (plan/detach.ts).
 */
import type { AttachRequest, Family } from '../request/types.js';
import type { Target } from '../runtime/types.js';
import { checkIds, makeStep } from '../steps/index.js';
import type { KindName, ParamsOf, StepSpec } from '../steps/types.js';
import type { NsRef } from '../steps/link.js';
import type { AddrExpiry, Route } from '../kernel/ip.js';
import type { DhcpLease } from '../dhcp/lease.js';

/** The NIC as it is in the host before attach: everything detach restores. */
export interface HostNicState {
  name: string;
  ifindex: number;
  mac: string;
  permaddr?: string;
  parentdev?: string;
  /** veth, macvlan, ... or undefined for a physical NIC. */
  kind?: string;
  mtu: number;
  up: boolean;
  alias?: string;
  /** `ip addr add` arguments before `dev`, first item the CIDR (link-local IPv6 left to the kernel). */
  addrs: string[][];
  /** When the addresses with a finite lifetime expire, by CIDR (addrs' first items). */
  addrExpires?: Record<string, AddrExpiry>;
  /** Routes through it that the kernel does not make by itself (observe/routes.ts), in restore order. */
  routes: { family: Family; args: string[] }[];
  /** The bridge (or bond) it is a port of: attach with --force takes it out, detach puts it back. */
  master?: { name: string; kind: string };
  /** Permanent neighbour entries on it (absent in records of older hostnics). */
  neigh?: { dst: string; lladdr?: string }[];
  /** Per-interface sysctls whose value differs from the namespace default (the move resets them). */
  sysctls: { key: string; value: string; defaultValue: string }[];
}

/**
 * How the NIC travels between the host and the container.
 * - `direct`: one move. On attach the NIC keeps its host name while it moves,
 *   and is renamed and tagged in the container; on detach it is renamed in
 *   the container and moves out with its host name. The host never sees a
 *   rename (that is what races udev and NetworkManager), and the kernel moves
 *   it once. Usable when the host name is free in the container.
 * - `private`: through a private namespace where it is renamed (the CNI
 *   host-device plugin's way), for when the host name is taken in the
 *   container. Two moves, and a namespace to create and delete.
 *
 * Why not one `ip link set dev X netns NS name Y` for both: the kernel
 * renames during the move only when X is taken in NS; otherwise it moves
 * the link under X and renames it there. Out of a container whose link
 * holds the host name, the host would then see the container-side name
 * appear and be renamed (measured: uevents "add eth1", "move nic1"), which
 * udev and NetworkManager act on; the same for the rollback of an attach.
 * Into the container it would be fine, but the `direct` path already moves
 * and renames in one batch, and the way back still needs the private hop.
 */
export type MovePath = 'direct' | 'private';

export interface AttachInput {
  id: string;
  request: AttachRequest;
  host: HostNicState;
  target: Target;
  /** Container-side interface name. */
  ctrName: string;
  /** Name of the private namespace (under /run/netns) where the NIC is renamed on the `private` path. */
  tmpNs: string;
  /** ifalias written while attached (tag.ts). */
  tag: string;
  /** The container's default routes (main table) when the plan was made, by family. */
  ctrDefaults?: { 4: Route[]; 6: Route[] };
  /** How the NIC moved into the container. */
  path: MovePath;
  /**
   * `attach --macvlan`: a macvlan child of `parent` went into the container
   * instead of the NIC. `host` then describes the child: the parent's name
   * (how the user names it), the child's MAC, the parent's MTU, kind
   * "macvlan", and nothing to take off the host.
   */
  macvlan?: { parent: string; mode: 'bridge' | 'private' | 'vepa' };
  /** With `dhcp`: where its client keeps the lease, and the container's pid namespace when it has one of its own. */
  dhcp?: DhcpPlace;
}

/** The identities a plan of this attachment touches (runner/locks.ts): for a macvlan child, its parent (children of one parent take turns). */
export function attachTouches(input: Pick<AttachInput, 'host' | 'macvlan'>): string[] {
  return input.macvlan ? [input.host.name] : [input.host.name, input.host.mac];
}

export interface DhcpPlace {
  /** `<state>/dhcp/<id>.json` */
  lease: string;
  /** /proc/PID/ns/pid of the container; absent: it shares hostnic's (or has no process). */
  pidns?: string;
}

export const tmpNsPath = (name: string): string => `/run/netns/${name}`;

/** The `direct` path needs the NIC's host name free in the container (names and altnames), unless it is the NIC itself. */
export function choosePath(hostName: string, ctrLinks: { ifname: string; altnames?: string[] }[], self?: string): MovePath {
  const taken = ctrLinks.some((l) => l.ifname !== self && (l.ifname === hostName || (l.altnames ?? []).includes(hostName)));
  return taken ? 'private' : 'direct';
}

/**
 * The plan in three parts: the host side (what the move would destroy,
 * taken off and kept for detach), the move itself (which depends on the
 * path), and the container side. Detach swaps the move for the path it
 * can take now (plan/detach.ts).
 */
export interface Sections {
  host: StepSpec[];
  move: StepSpec[];
  ctr: StepSpec[];
}

/** The steps in the order they run. The private namespace is created first, so the host-side changes and the move out of the host share one `ip -batch`. */
export function assemble(s: Sections): StepSpec[] {
  const create = s.move[0]?.kind === 'netns.add' ? s.move.slice(0, 1) : [];
  return [...create, ...s.host, ...s.move.slice(create.length), ...s.ctr];
}

export function planAttach(input: AttachInput): StepSpec[] {
  const steps = assemble(planSections(input));
  checkIds(steps);
  return steps;
}

export function planSections(input: AttachInput): Sections {
  const { request: req, host, target, ctrName } = input;
  const HOST: NsRef = null;
  const CTR: NsRef = target.nsPath;
  const sections: Sections = { host: [], move: [], ctr: [] };
  let into = sections.host;
  const step = <K extends KindName>(kind: K, id: string, title: string, undoTitle: string, params: ParamsOf<K>, inverse = false): void => {
    into.push(makeStep(kind, id, title, params, { undoTitle, inverse }));
  };

  if (input.macvlan) return macvlanSections(input, step, sections, (s) => { into = s; });

  // Who the NIC is (the plan's first change to it and the move check it): a link that took its name meanwhile is refused.
  const identity = { mac: host.mac, ...(host.ifindex ? { ifindex: host.ifindex } : {}) };

  // 1. Host side: take off what the move would silently destroy, keeping it for detach.
  // Backwards, the bridge gets its port back last: with its addresses and routes in place (as it was).
  if (host.master) {
    step('link.master', 'host.master', `Take ${host.name} out of ${host.master.kind} ${host.master.name}`,
      `Put ${host.name} back into ${host.master.kind} ${host.master.name}`, { ns: HOST, dev: host.name, master: host.master.name }, true);
  }
  // Backwards, the neighbour entries come last: on the link up, with its addresses.
  if (host.neigh?.length) {
    const list = host.neigh.map((n) => n.dst).join(', ');
    step('neigh.add', 'host.neigh', `Remove permanent neighbour entries ${list} from ${host.name}`,
      `Restore permanent neighbour entries ${list} on ${host.name}`, { ns: HOST, dev: host.name, entries: host.neigh }, true);
  }
  for (const family of [4, 6] as const) {
    const routes = host.routes.filter((r) => r.family === family).map((r) => r.args);
    if (routes.length) {
      step('route.add', `host.routes${family}`, `Remove IPv${family} host route(s) ${routes.map((r) => r[0]).join(', ')} via ${host.name}`,
        `Restore IPv${family} host route(s) via ${host.name}`, { ns: HOST, family, routes }, true);
    }
  }
  if (host.addrs.length) {
    const list = host.addrs.map((a) => a[0]).join(', ');
    step('addr.add', 'host.addrs', `Remove host address(es) ${list} from ${host.name}`, `Restore host address(es) ${list} on ${host.name}`,
      { ns: HOST, dev: host.name, addrs: host.addrs, ...(host.addrExpires ? { expires: host.addrExpires } : {}) }, true);
  }
  // The link goes down before its sysctls change, so that backwards (detach,
  // rollback) they are all back before it comes up: up with the namespace's
  // defaults for a moment, it could take a router advertisement or an address
  // (accept_ra, autoconf, disable_ipv6) that its own settings refuse.
  if (host.up) {
    step('link.set', 'host.down', `Bring ${host.name} down in the host`, `Bring ${host.name} up in the host`,
      { ns: HOST, from: { name: host.name, up: true, ...identity }, to: { up: false } });
  }
  for (const s of host.sysctls) {
    const key = s.key.replaceAll('/', '.');
    // net/ipv4/conf/<dev>/arp_ignore: host.sysctl.ipv4.arp_ignore
    const [, family, , , name] = s.key.split('/');
    step('sysctl.set', `host.sysctl.${family}.${name}`, `Reset ${key} to the default (was ${s.value})`, `Restore ${key}=${s.value}`,
      { ns: HOST, key: s.key, value: s.defaultValue });
  }

  // 2. The move, with the rename and the tag where no udev or network manager of the host sees them.
  into = sections.move;
  const extra = `${req.mac ? `, MAC ${req.mac}` : ''}${req.mtu ? `, MTU ${req.mtu}` : ''}`;
  const renameTitle = `Rename ${host.name} to ${ctrName} and tag it with its host identity${extra}`;
  const renameBack = `Rename ${ctrName} back to ${host.name}; restore its MAC, MTU and alias`;
  const rename = (ns: NsRef) => ({
    ns,
    from: { name: host.name, alias: host.alias ?? '', mac: host.mac, mtu: host.mtu },
    // MAC and MTU always present, so going back restores them even if they drifted in the container.
    to: { name: ctrName, alias: input.tag, mac: req.mac ?? host.mac, mtu: req.mtu ?? host.mtu },
  });
  // The kernel resets per-interface sysctls on a move: set them on arrival, before the link is up.
  const announce = (dev: string): void => step('sysctl.announce', 'ctr.announce',
    `Set arp_notify and ndisc_notify on ${dev} (the kernel announces its addresses; no arping)`,
    `Leave ${ctrName}'s announcement sysctls (they go with the link)`, { ns: CTR, dev });
  if (input.path === 'direct') {
    step('link.move', 'move', `Move ${host.name} into ${target.display}`, `Move ${host.name} back to the host`,
      { name: host.name, ...identity, from: HOST, to: CTR });
    announce(host.name);
    step('link.set', 'rename', renameTitle, renameBack, rename(CTR));
  } else {
    const TMP: NsRef = tmpNsPath(input.tmpNs);
    step('netns.add', 'tmpns.add', `Create private namespace ${input.tmpNs}`, `Remove private namespace ${input.tmpNs}`, { name: input.tmpNs });
    step('link.move', 'move.tmpns', `Move ${host.name} into ${input.tmpNs}`, `Move ${host.name} back to the host`,
      { name: host.name, ...identity, from: HOST, to: TMP });
    step('link.set', 'rename', renameTitle, renameBack, rename(TMP));
    step('link.move', 'move', `Move ${ctrName} into ${target.display}`, `Move ${ctrName} out of ${target.display}`,
      { name: ctrName, mac: req.mac ?? host.mac, from: TMP, to: CTR });
    step('netns.add', 'tmpns.remove', `Remove private namespace ${input.tmpNs}`, `Create private namespace ${input.tmpNs}`, { name: input.tmpNs }, true);
    announce(ctrName);
  }

  // 3. Container side.
  into = sections.ctr;
  ctrSide(input, step);
  return sections;
}

type StepFn = <K extends KindName>(kind: K, id: string, title: string, undoTitle: string, params: ParamsOf<K>, inverse?: boolean) => void;

/**
 * A macvlan child: nothing to take off the host (the parent stays as it
 * is); the child is created straight into the container (steps/macvlan.ts)
 * under its name and MAC, then announced, tagged and configured like a
 * NIC. Backwards (detach, rollback) the child is deleted where it is.
 */
function macvlanSections(input: AttachInput, step: StepFn, sections: Sections, intoSection: (s: StepSpec[]) => void): Sections {
  const { request: req, host, target, ctrName } = input;
  const mv = input.macvlan!;
  const CTR: NsRef = target.nsPath;
  intoSection(sections.move);
  step('macvlan.create', 'macvlan', `Create macvlan child ${ctrName} of ${mv.parent} (${mv.mode}, MAC ${host.mac}) in ${target.display}`,
    `Delete macvlan child ${ctrName} of ${mv.parent}`,
    { parent: mv.parent, ns: CTR, name: ctrName, mac: host.mac, mode: mv.mode, ...(req.mtu ? { mtu: req.mtu } : {}) });
  step('sysctl.announce', 'ctr.announce', `Set arp_notify and ndisc_notify on ${ctrName} (the kernel announces its addresses; no arping)`,
    `Leave ${ctrName}'s announcement sysctls (they go with the link)`, { ns: CTR, dev: ctrName });
  step('link.set', 'tag', `Tag ${ctrName} with its attachment`, `Untag ${ctrName}`,
    { ns: CTR, from: { name: ctrName, alias: '' }, to: { alias: input.tag } });
  intoSection(sections.ctr);
  ctrSide(input, step);
  return sections;
}

/** The container side, the same for a NIC and a macvlan child: addresses, up, default routes, extra routes. */
function ctrSide(input: AttachInput, step: StepFn): void {
  const { request: req, target, ctrName, host } = input;
  const CTR: NsRef = target.nsPath;
  if (req.addresses.length) {
    const list = req.addresses.map((a) => a.cidr).join(', ');
    step('addr.add', 'ctr.addrs', `Add ${list} to ${ctrName}`, `Remove ${list} from ${ctrName}`,
      { ns: CTR, dev: ctrName, addrs: req.addresses.map((a) => [a.cidr]) });
  }
  step('link.set', 'ctr.up', `Bring ${ctrName} up`, `Bring ${ctrName} down`,
    { ns: CTR, from: { name: ctrName, up: false }, to: { up: true } });
  if (req.dhcp) {
    if (!input.dhcp) throw new Error('internal: a dhcp request without its lease file');
    const { lease, pidns } = input.dhcp;
    step('dhcp.client', 'ctr.dhcp.client', `Start the DHCP client on ${ctrName} and wait for a lease (up to ${req.dhcp.timeout} s)`,
      `Release the lease and stop the DHCP client on ${ctrName}`, { ns: CTR, dev: ctrName, lease, timeout: req.dhcp.timeout, ...(pidns ? { pidns } : {}) });
    step('dhcp.lease', 'ctr.dhcp', `Apply the DHCP lease to ${ctrName} (address, router, routes, MTU)`,
      `Release the lease; remove its address and routes from ${ctrName}`, {
        ns: CTR, dev: ctrName, lease, mtu: req.mtu ?? host.mtu, ...(req.mtu ? { keepMtu: true } : {}),
        ...(input.ctrDefaults ? { previous: input.ctrDefaults[4] } : {}),
      });
  }
  for (const a of req.addresses) {
    if (!a.gateway) continue;
    step('route.default', `ctr.default${a.family}`, `Replace the IPv${a.family} default route with via ${a.gateway} dev ${ctrName}`,
      `Restore the container's previous IPv${a.family} default route`,
      { ns: CTR, family: a.family, gateway: a.gateway, dev: ctrName, ...(input.ctrDefaults ? { previous: input.ctrDefaults[a.family] } : {}) });
  }
  for (const family of [4, 6] as const) {
    const routes = req.routes.filter((r) => r.family === family && r.dst !== 'default')
      .map((r) => [r.dst, ...(r.via ? ['via', r.via] : []), 'dev', ctrName]);
    if (routes.length) {
      const list = routes.map((r) => r[0]).join(', ');
      step('route.add', `ctr.routes${family}`, `Add IPv${family} route(s) ${list} via ${ctrName}`, `Remove IPv${family} route(s) ${list}`,
        { ns: CTR, family, routes });
    }
  }
  // `--route default@VIA` (or a default route on the link, without @VIA) is the default route as an
  // address's gateway is (the two are never both: request/address.ts checkRoutes): it replaces the
  // container's own, put back on detach, and is written in its family (::/0 stays IPv6). After the
  // routes: its next hop may be on-link only through one of them (VIA/32 for a /32 address).
  for (const r of req.routes) {
    if (r.dst !== 'default') continue;
    step('route.default', `ctr.default${r.family}`, `Replace the IPv${r.family} default route with ${r.via ? `via ${r.via} ` : ''}dev ${ctrName}`,
      `Restore the container's previous IPv${r.family} default route`,
      { ns: CTR, family: r.family, ...(r.via ? { gateway: r.via } : {}), dev: ctrName, ...(input.ctrDefaults ? { previous: input.ctrDefaults[r.family] } : {}) });
  }
}

/**
 * The families whose default route an attach replaces by a route.default step (an address's gateway,
 * `--route default@VIA`): the tag carries the container's route before it. A DHCP lease's router is
 * not among them: tags have never carried it, and a record's check against its tag must hold for both.
 */
export function defaultsReplaced(req: Pick<AttachRequest, 'addresses' | 'routes'>): Set<Family> {
  return new Set<Family>(entryDefaults(req).map((d) => d.family));
}

/** The default routes an entry sets: an address's gateway, or a `--route default[@VIA]` (no gateway: on the link). */
export function entryDefaults(req: Pick<AttachRequest, 'addresses' | 'routes'>): { family: Family; gateway?: string }[] {
  return [
    ...req.addresses.flatMap((a) => (a.gateway ? [{ family: a.family, gateway: a.gateway }] : [])),
    ...req.routes.flatMap((r) => (r.dst === 'default' ? [{ family: r.family, ...(r.via ? { gateway: r.via } : {}) }] : [])),
  ];
}

/**
 * The MTU an attached NIC has when all is as hostnic left it: the entry's,
 * else the one its applied DHCP lease set (the dhcp.lease step sets it when
 * the entry gives none), else the host's.
 */
export function expectedMtu(input: Pick<AttachInput, 'request' | 'host'>, lease?: Pick<DhcpLease, 'mtu'>): number {
  return input.request.mtu ?? lease?.mtu ?? input.host.mtu;
}
