/**
 * Drift of an attachment that is in its container, and the plan that puts
 * hostnic's own settings back (hostnic apply). Pure: the caller reads the
 * container; this compares and plans.
 *
 * Drift is hostnic's own settings gone: the link's name, MAC, MTU or up
 * state, the entry's addresses, the default route through its gateway, the
 * entry's routes. What someone changed besides (another address, another
 * route through the NIC) is reported and left alone.
 */
import { isUp, mainDefaults, routeDst, type LinkAddrs, type NsState, type Route } from '../kernel/ip.js';
import { checkIds, makeStep } from '../steps/index.js';
import type { KindName, ParamsOf, StepSpec } from '../steps/types.js';
import { entryDefaults, expectedMtu, planSections, type AttachInput } from './attach.js';
import { leaseRoutes, type DhcpLease } from '../dhcp/lease.js';

export interface Repair {
  /** What differs from what hostnic set (each a short phrase). */
  drift: string[];
  /** What was changed besides: reported, not undone. */
  besides: string[];
  /** The steps that undo the drift (empty when there is none). */
  steps: StepSpec[];
}

/** A step with its undo's title. */
const step = <K extends KindName>(kind: K, id: string, title: string, undoTitle: string, params: ParamsOf<K>): StepSpec =>
  makeStep(kind, id, title, params, { undoTitle });

const gwOf = (r: Route): string | undefined => r.gateway ?? r.via?.host;

/**
 * `input`: the record's planner input (its request is the entry's); `link`: the NIC in the container now;
 * `lease`: the DHCP lease applied to it (records.ts appliedLease): its address, routes and MTU are hostnic's too.
 */
export function planRepair(input: AttachInput, link: LinkAddrs, ctr: NsState, lease?: DhcpLease): Repair {
  const req = input.request;
  const ns = input.target.nsPath;
  const name = input.ctrName;
  const drift: string[] = [];
  const besides: string[] = [];
  const steps: StepSpec[] = [];

  const mac = req.mac ?? input.host.mac;
  const mtu = expectedMtu(input, lease);
  const liveMac = (link.address ?? '').toLowerCase();
  const to: { name?: string; mac?: string; mtu?: number } = {};
  if (link.ifname !== name) {
    drift.push(`renamed to ${link.ifname}`);
    to.name = name;
  }
  if (liveMac !== mac) {
    drift.push(`MAC ${liveMac} (the entry's: ${mac})`);
    to.mac = mac;
  }
  if (link.mtu !== mtu) {
    drift.push(`MTU ${link.mtu} (the entry's: ${mtu})`);
    to.mtu = mtu;
  }
  if (Object.keys(to).length) {
    steps.push(step('link.set', 'repair.link', `Give ${link.ifname} back its ${Object.keys(to).join(', ')} (${[to.name, to.mac, to.mtu].filter((v) => v !== undefined).join(', ')})`,
      `Put ${name}'s drifted ${Object.keys(to).join(', ')} back`,
      { ns, from: { name: link.ifname, mac: liveMac, mtu: link.mtu }, to }));
  }

  const have = new Set(link.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
  const missing = req.addresses.filter((a) => !have.has(a.cidr));
  if (missing.length) {
    const list = missing.map((a) => a.cidr).join(', ');
    drift.push(`missing ${list}`);
    steps.push(step('addr.add', 'repair.addrs', `Add ${list} back to ${name}`, `Remove ${list} from ${name}`,
      { ns, dev: name, addrs: missing.map((a) => [a.cidr]) }));
  }
  const wanted = new Set([...req.addresses.map((a) => a.cidr), ...(lease ? [`${lease.ip}/${lease.prefix}`] : [])]);
  for (const a of link.addr_info) {
    if (a.family === 'inet6' && a.scope === 'link') continue; // the kernel's own
    const cidr = `${a.local}/${a.prefixlen}`;
    if (!wanted.has(cidr)) besides.push(`address ${cidr} added on ${link.ifname}`);
  }

  if (!isUp(link)) {
    drift.push('down');
    steps.push(step('link.set', 'repair.up', `Bring ${name} up`, `Bring ${name} down`, { ns, from: { name, up: false }, to: { up: true } }));
  }

  for (const a of entryDefaults(req)) {
    const now = mainDefaults(a.family === 6 ? ctr.routes6 : ctr.routes4);
    const ours = now.length === 1 && gwOf(now[0]!) === a.gateway && (now[0]!.dev === link.ifname || now[0]!.dev === name);
    if (ours) continue;
    const is = now.length ? now.map((r) => `${gwOf(r) ? `via ${gwOf(r)} ` : ''}dev ${r.dev ?? '?'}`).join('; ') : 'none';
    const want = `${a.gateway ? `via ${a.gateway} ` : ''}dev ${name}`;
    drift.push(`IPv${a.family} default route ${is} (the entry's: ${want})`);
    steps.push(step('route.default', `repair.default${a.family}`, `Put the IPv${a.family} default route ${want} back`,
      `Put the IPv${a.family} default route back as it was (${is})`,
      { ns, family: a.family, ...(a.gateway ? { gateway: a.gateway } : {}), dev: name, previous: now }));
  }

  // The lease's routes (its default route is left to the renewals, as the entry has no gateway for it).
  const leased = new Set(lease ? (({ onlink, routes }) => [...onlink, ...routes].map((r) => routeDst({ dst: r[0]! })))(leaseRoutes(lease, name)) : []);
  for (const family of [4, 6] as const) {
    const table = family === 6 ? ctr.routes6 : ctr.routes4;
    const through = table.filter((r) => (r.dev === link.ifname || r.dev === name) && (r.table === undefined || r.table === 'main'));
    const lost = req.routes.filter((r) => r.family === family && r.dst !== 'default'
      && !through.some((t) => routeDst(t) === r.dst && gwOf(t) === r.via));
    if (lost.length) {
      drift.push(`missing route(s) ${lost.map((r) => r.dst).join(', ')}`);
      steps.push(step('route.add', `repair.routes${family}`, `Add IPv${family} route(s) ${lost.map((r) => r.dst).join(', ')} via ${name} back`,
        `Remove IPv${family} route(s) ${lost.map((r) => r.dst).join(', ')}`,
        { ns, family, routes: lost.map((r) => [r.dst, ...(r.via ? ['via', r.via] : []), 'dev', name]) }));
    }
    for (const t of through) {
      if (t.dst === 'default' || t.protocol === 'kernel' || t.type === 'multicast' || (family === 6 && t.dst.startsWith('fe80:'))) continue;
      if (req.routes.some((r) => r.dst === routeDst(t)) || leased.has(routeDst(t))) continue;
      besides.push(`route ${t.dst}${gwOf(t) ? ` via ${gwOf(t)}` : ''} added through ${link.ifname}`);
    }
  }
  checkIds(steps);
  return { drift, besides, steps };
}

/**
 * A DHCP lease renewed with something applied changed (address, router,
 * classless routes, MTU): one `dhcp.lease` step, under the record's id, from
 * the lease applied until now (`replaces`) to the new one, which its capture
 * reads from the lease file. Its saved data replaces the record's.
 */
export function planLeaseChange(input: AttachInput, saved: Record<string, unknown>): StepSpec[] {
  return planSections(input).ctr.flatMap((s) => {
    if (s.kind !== 'dhcp.lease') return [];
    const old = saved[s.id] as StepSpec<'dhcp.lease'>['saved'];
    return [{
      ...s, title: `Apply the renewed DHCP lease to ${input.ctrName}`, undoTitle: `Put the DHCP lease applied before back on ${input.ctrName}`,
      params: { ...s.params, ...(old ? { replaces: old } : {}) },
    }];
  });
}
