/** rp-filter: strict reverse-path filtering on NICs that share a subnet. Fixed now only (the NICs are on their way into containers). */
import ipaddr from 'ipaddr.js';
import { confKey, type NicDetail } from '../../host/inventory.js';
import { sysctlSetStep } from '../steps.js';
import type { Check, DoctorCheck, HostView } from '../types.js';

function ipv4Networks(nic: NicDetail): string[] {
  const out: string[] = [];
  for (const cidr of nic.addresses) {
    try {
      const [addr, bits] = ipaddr.parseCIDR(cidr);
      if (addr.kind() !== 'ipv4' || bits >= 32) continue;
      out.push(`${ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()}/${bits}`);
    } catch {
      /* not an address we understand */
    }
  }
  return out;
}

export function checkRpFilter(view: HostView): Check {
  const why =
    'When two NICs share a subnet, the route back to a sender on it goes out one of them only; strict reverse-path filtering (rp_filter=1) then drops what arrives on the other. Loose mode (2) still drops spoofed sources that are not routable at all.';
  const bySubnet = new Map<string, NicDetail[]>();
  for (const n of view.nics) for (const net of new Set(ipv4Networks(n))) bySubnet.set(net, [...(bySubnet.get(net) ?? []), n]);
  const shared = [...bySubnet.entries()].filter(([, ns]) => ns.length > 1);
  const strict = [...new Set(shared.flatMap(([, ns]) => ns))].filter((n) => n.rpFilter === 1);
  if (strict.length === 0) {
    return {
      id: 'rp-filter',
      verdict: 'ok',
      title: shared.length ? `NICs share ${shared.map(([s]) => s).join(', ')}; none filters strictly` : 'No two NICs share an IPv4 subnet',
      why,
    };
  }
  return {
    id: 'rp-filter',
    verdict: 'warn',
    title: `Strict rp_filter on ${strict.map((n) => n.name).join(', ')}, which share ${shared.map(([s, ns]) => `${s} (${ns.map((n) => n.name).join(', ')})`).join('; ')}`,
    why,
    nics: strict.map((n) => n.name),
    fix: {
      summary: `Loose mode on those NICs: ${strict.map((n) => `sysctl net.ipv4.conf.${n.name}.rp_filter=2`).join('; ')} (not persisted: the NICs are on their way into containers)`,
      steps: strict.map((n) => sysctlSetStep(view.netns, confKey(n.name, 'rp_filter'), '2')),
    },
  };
}

export const rpFilter: DoctorCheck = { id: 'rp-filter', run: checkRpFilter };
