/**
 * From a request and what was observed of the host and the container, the
 * input of the attach planner (plan/attach.ts), refusing requests that would
 * cut the machine off or cannot work. Pure: no I/O.
 */
import { UsageError } from '../errors.js';
import { mainDefaults, type Link, type NsState, type Route } from '../kernel/ip.js';
import { defaultRouteDevices, freeEthName } from '../observe/host.js';
import type { AttachRequest } from '../request/types.js';
import type { Target } from '../runtime/types.js';
import { encodeTag } from '../tag.js';
import { choosePath, type AttachInput, type HostNicState } from './attach.js';

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

export function attachInput(id: string, req: AttachRequest, target: Target, seen: AttachSeen): AttachInput {
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
  const ctrLinks = ctrState.links;
  if (req.name && ctrLinks.some((l) => l.ifname === req.name || (l.altnames ?? []).includes(req.name!))) {
    throw new UsageError(`${target.display} already has an interface named ${req.name}`, 'pick another with --name');
  }
  const ctrName = req.name ?? freeEthName(ctrLinks);
  const families = new Set(req.addresses.filter((a) => a.gateway).map((a) => a.family));
  const tag = encodeTag({
    id, name: host.name, mac: host.mac, mtu: host.mtu, up: host.up, alias: host.alias,
    gw4: families.has(4) ? gwText(mainDefaults(ctrState.routes4)) : undefined,
    gw6: families.has(6) ? gwText(mainDefaults(ctrState.routes6)) : undefined,
  });
  const ctrDefaults = { 4: mainDefaults(ctrState.routes4), 6: mainDefaults(ctrState.routes6) };
  return { id, request: req, host, target, ctrName, tmpNs: `hostnic-${id}`, tag, ctrDefaults, path: choosePath(host.name, ctrLinks) };
}
