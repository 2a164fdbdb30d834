/**
 * From a request and what was observed of the host and the container, the
 * input of the attach planner (plan/attach.ts), refusing requests that would
 * cut the machine off or cannot work. Pure: no I/O.
 */
import { UsageError } from '../errors.js';
import { isUp, mainDefaults, type Link, type NsState, type Route } from '../kernel/ip.js';
import { macvlanMac } from '../request/macvlan.js';
import { defaultRouteDevices, freeEthName } from '../observe/host.js';
import type { AttachRequest } from '../request/types.js';
import type { Target } from '../runtime/types.js';
import { encodeTag } from '../tag.js';
import { choosePath, defaultsReplaced, type AttachInput, type HostNicState } from './attach.js';

const gwText = (routes: Route[]): string | undefined => {
  const r = routes[0];
  return r && r.gateway && r.dev ? `${r.gateway}@${r.dev}` : undefined;
};

export interface AttachSeen {
  /** The NIC the request selected, as the host shows it. */
  link: Link;
  /** Its state (observe/host.ts hostNicState). */
  host: HostNicState;
  hostState: NsState;
  ctrState: NsState;
}

/**
 * A parent of macvlan children hostnic made stays in the host: moving it
 * would take their uplink into one container. `records`: the attachment
 * records (its children among them). The attach command and apply/watch both ask.
 */
export function refuseMovingParent(ifname: string, req: AttachRequest, records: { input: { macvlan?: { parent: string }; target: { display: string } } }[]): void {
  const children = records.filter((r) => r.input.macvlan?.parent === ifname);
  if (req.macvlan || children.length === 0) return;
  throw new UsageError(`${ifname} is the parent of macvlan children hostnic made (in ${children.map((r) => r.input.target.display).join(', ')}): it stays in the host`,
    'attach it with --macvlan, or detach its children first');
}

export function attachInput(id: string, req: AttachRequest, target: Target, seen: AttachSeen): AttachInput {
  if (req.macvlan) return macvlanInput(id, req, target, seen);
  const { link, host, hostState, ctrState } = seen;
  if (!req.force && defaultRouteDevices(hostState).has(link.ifname)) {
    throw new UsageError(
      `${link.ifname} carries this host's default route: moving it would cut the machine off`,
      'attach a secondary NIC instead, or pass --force if you are on a console',
    );
  }
  if (!req.force && host.master) {
    throw new UsageError(
      `${link.ifname} is a port of ${host.master.kind} ${host.master.name}: moving it takes it out of ${host.master.name}`,
      `attach a NIC that is not a ${host.master.kind} port, or pass --force (detach puts it back into ${host.master.name})`,
    );
  }
  if (req.mtu !== undefined) {
    const min = link.min_mtu ?? 68;
    const max = link.max_mtu ?? 65535;
    if (req.mtu < min || req.mtu > max) throw new UsageError(`MTU ${req.mtu} is outside ${link.ifname}'s range ${min}..${max}`);
  }
  const ctrName = ctrNameOf(req, target, ctrState);
  const ctrDefaults = { 4: mainDefaults(ctrState.routes4), 6: mainDefaults(ctrState.routes6) };
  const tag = tagOf(id, req, host, ctrState);
  return { id, request: req, host, target, ctrName, tmpNs: `hostnic-${id}`, tag, ctrDefaults, path: choosePath(host.name, ctrState.links) };
}

function ctrNameOf(req: AttachRequest, target: Target, ctrState: NsState): string {
  const ctrLinks = ctrState.links;
  if (req.name && ctrLinks.some((l) => l.ifname === req.name || (l.altnames ?? []).includes(req.name!))) {
    throw new UsageError(`${target.display} already has an interface named ${req.name}`, 'pick another with --name');
  }
  return req.name ?? freeEthName(ctrLinks);
}

function tagOf(id: string, req: AttachRequest, host: HostNicState, ctrState: NsState): string {
  const families = defaultsReplaced(req);
  return encodeTag({
    id, name: host.name, mac: host.mac, mtu: host.mtu, up: host.up, alias: host.alias,
    gw4: families.has(4) ? gwText(mainDefaults(ctrState.routes4)) : undefined,
    gw6: families.has(6) ? gwText(mainDefaults(ctrState.routes6)) : undefined,
    ...(req.macvlan ? { macvlan: req.macvlan.mode } : {}),
  });
}

/**
 * Who the container is, for its macvlan child's MAC (request/macvlan.ts):
 * stable across its restarts. A runtime's container by runtime and name
 * (the same after `docker restart`, and after a re-create under the same
 * name, as a DHCP server or a neighbour would want); `netns:NAME` by its
 * name; a path by the path; a `pid:` target by its namespace (dev:inode),
 * the one thing a pid names that lasts as long as the child does.
 */
export function macvlanIdentity(target: Target): string {
  const rt = target.runtime;
  if (rt) return `${rt.name}:${rt.namespace ? `${rt.namespace}/` : ''}${rt.containerName}`;
  if (target.kind === 'netns' || target.kind === 'path') return `${target.kind}:${target.nsPath}`;
  return `ns:${target.nsId}`;
}

/**
 * `--macvlan`: the NIC is the parent and stays in the host, untouched, so it
 * may carry the default route and needs no --force; it must be able to be a
 * parent (an Ethernet link, up, not loopback, not itself a macvlan child,
 * not a bridge port). `host` becomes the child (plan/attach.ts AttachInput).
 */
function macvlanInput(id: string, req: AttachRequest, target: Target, seen: AttachSeen): AttachInput {
  const { link, ctrState } = seen;
  const name = link.ifname;
  const kind = link.linkinfo?.info_kind;
  if (link.flags.includes('LOOPBACK') || link.link_type === 'loopback') throw new UsageError(`${name} is the loopback device: it cannot be a macvlan parent`);
  if (kind === 'macvlan' || kind === 'macvtap') {
    throw new UsageError(`${name} is itself a ${kind} child${link.link ? ` of ${link.link}` : ''}: it cannot be a macvlan parent`, 'name its parent instead');
  }
  if (link.link_type !== undefined && link.link_type !== 'ether') throw new UsageError(`${name} is not an Ethernet link (${link.link_type}): it cannot be a macvlan parent`);
  if (seen.host.master) {
    throw new UsageError(`${name} is a port of ${seen.host.master.kind} ${seen.host.master.name}: it cannot be a macvlan parent`, `make the child of ${seen.host.master.name} instead`);
  }
  if (!isUp(link)) {
    throw new UsageError(`${name} is down: a macvlan child needs its parent up, and hostnic does not change the parent`, `bring it up first: ip link set ${name} up`);
  }
  const parentMac = (link.address ?? '').toLowerCase();
  if (req.mac !== undefined && req.mac === parentMac) throw new UsageError(`--mac ${req.mac} is ${name}'s own MAC: a macvlan child needs a MAC of its own`);
  if (req.mtu !== undefined && req.mtu > link.mtu) throw new UsageError(`MTU ${req.mtu} is above ${name}'s MTU ${link.mtu}: a macvlan child cannot exceed its parent`);
  const mac = req.mac ?? macvlanMac(macvlanIdentity(target), parentMac);
  const host: HostNicState = { name, ifindex: 0, mac, mtu: link.mtu, up: true, kind: 'macvlan', addrs: [], routes: [], sysctls: [] };
  const ctrName = ctrNameOf(req, target, ctrState);
  const ctrDefaults = { 4: mainDefaults(ctrState.routes4), 6: mainDefaults(ctrState.routes6) };
  return {
    id, request: req, host, target, ctrName, tmpNs: `hostnic-${id}`, tag: tagOf(id, req, host, ctrState), ctrDefaults, path: 'direct',
    macvlan: { parent: name, mode: req.macvlan!.mode },
  };
}
