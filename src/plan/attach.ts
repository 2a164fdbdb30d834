/**
 * Pure planning of an attach: from the request and what was observed of the
 * system, the list of steps. No I/O here, so the plan is unit-tested as data,
 * and detach re-derives the very same list from the record and runs it
 * backwards (plan/detach.ts).
 */
import type { AttachRequest, Family } from '../spec/types.js';
import type { Target } from '../target/types.js';
import type { StepSpec } from '../steps/types.js';
import type { NsRef } from '../steps/link.js';
import type { Route } from '../kernel/ip.js';

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
  /** Routes through it that the kernel does not make by itself. */
  routes: { family: Family; args: string[] }[];
  /** Per-interface sysctls whose value differs from the namespace default (the move resets them). */
  sysctls: { key: string; value: string; defaultValue: string }[];
}

export interface AttachInput {
  id: string;
  request: AttachRequest;
  host: HostNicState;
  target: Target;
  /** Container-side interface name. */
  ctrName: string;
  /** Name of the private namespace (under /run/netns) where the NIC is renamed. */
  tmpNs: string;
  /** ifalias written while attached (tag.ts). */
  tag: string;
  /** The container's default routes (main table) when the plan was made, by family. */
  ctrDefaults?: { 4: Route[]; 6: Route[] };
}

export const tmpNsPath = (name: string): string => `/run/netns/${name}`;

export function planAttach(input: AttachInput): StepSpec[] {
  const { request: req, host, target, ctrName } = input;
  const HOST: NsRef = null;
  const TMP: NsRef = tmpNsPath(input.tmpNs);
  const CTR: NsRef = target.nsPath;
  const steps: StepSpec[] = [];
  const step = (kind: string, title: string, undoTitle: string, params: unknown, inverse = false): void => {
    steps.push({ kind, title, undoTitle, params, ...(inverse ? { inverse } : {}) });
  };

  // The private namespace comes first, so that the host-side changes and the
  // move out of the host run back to back (one `ip -batch` process).
  step('netns.add', `Create private namespace ${input.tmpNs}`, `Remove private namespace ${input.tmpNs}`, { name: input.tmpNs });

  // 1. Host side: take off what the move would silently destroy, keeping it for detach.
  for (const family of [4, 6] as const) {
    const routes = host.routes.filter((r) => r.family === family).map((r) => r.args);
    if (routes.length) {
      step('route.add', `Remove IPv${family} host route(s) ${routes.map((r) => r[0]).join(', ')} via ${host.name}`,
        `Restore IPv${family} host route(s) via ${host.name}`, { ns: HOST, family, routes }, true);
    }
  }
  if (host.addrs.length) {
    const list = host.addrs.map((a) => a[0]).join(', ');
    step('addr.add', `Remove host address(es) ${list} from ${host.name}`, `Restore host address(es) ${list} on ${host.name}`,
      { ns: HOST, dev: host.name, addrs: host.addrs }, true);
  }
  for (const s of host.sysctls) {
    const key = s.key.replaceAll('/', '.');
    step('sysctl.set', `Reset ${key} to the default (was ${s.value})`, `Restore ${key}=${s.value}`,
      { ns: HOST, key: s.key, value: s.defaultValue });
  }
  if (host.up) {
    step('link.set', `Bring ${host.name} down in the host`, `Bring ${host.name} up in the host`,
      { ns: HOST, from: { name: host.name, up: true }, to: { up: false } });
  }

  // 2. Through a private namespace: rename and tag where no udev or network manager can see it.
  step('link.move', `Move ${host.name} into ${input.tmpNs}`, `Move ${host.name} back to the host`,
    { name: host.name, mac: host.mac, from: HOST, to: TMP });
  const extra = `${req.mac ? `, MAC ${req.mac}` : ''}${req.mtu ? `, MTU ${req.mtu}` : ''}`;
  step('link.set', `Rename ${host.name} to ${ctrName} and tag it with its host identity${extra}`,
    `Rename ${ctrName} back to ${host.name}; restore its MAC, MTU and alias`,
    {
      ns: TMP,
      from: { name: host.name, alias: host.alias ?? '', mac: host.mac, mtu: host.mtu },
      // MAC and MTU always present, so going back restores them even if they drifted in the container.
      to: { name: ctrName, alias: input.tag, mac: req.mac ?? host.mac, mtu: req.mtu ?? host.mtu },
    });
  step('link.move', `Move ${ctrName} into ${target.display}`, `Move ${ctrName} out of ${target.display}`,
    { name: ctrName, mac: req.mac ?? host.mac, from: TMP, to: CTR });
  step('netns.add', `Remove private namespace ${input.tmpNs}`, `Create private namespace ${input.tmpNs}`, { name: input.tmpNs }, true);

  // 3. Container side.
  step('sysctl.announce', `Set arp_notify and ndisc_notify on ${ctrName} (the kernel announces its addresses; no arping)`,
    `Leave ${ctrName}'s announcement sysctls (they go with the link)`, { ns: CTR, dev: ctrName });
  if (req.addresses.length) {
    const list = req.addresses.map((a) => a.cidr).join(', ');
    step('addr.add', `Add ${list} to ${ctrName}`, `Remove ${list} from ${ctrName}`,
      { ns: CTR, dev: ctrName, addrs: req.addresses.map((a) => [a.cidr]) });
  }
  step('link.set', `Bring ${ctrName} up`, `Bring ${ctrName} down`,
    { ns: CTR, from: { name: ctrName, up: false }, to: { up: true } });
  for (const a of req.addresses) {
    if (!a.gateway) continue;
    step('route.default', `Replace the IPv${a.family} default route with via ${a.gateway} dev ${ctrName}`,
      `Restore the container's previous IPv${a.family} default route`,
      { ns: CTR, family: a.family, gateway: a.gateway, dev: ctrName, ...(input.ctrDefaults ? { previous: input.ctrDefaults[a.family] } : {}) });
  }
  for (const family of [4, 6] as const) {
    const routes = req.routes.filter((r) => r.family === family)
      .map((r) => [r.dst, ...(r.via ? ['via', r.via] : []), 'dev', ctrName]);
    if (routes.length) {
      const list = routes.map((r) => r[0]).join(', ');
      step('route.add', `Add IPv${family} route(s) ${list} via ${ctrName}`, `Remove IPv${family} route(s) ${list}`,
        { ns: CTR, family, routes });
    }
  }
  return steps;
}
