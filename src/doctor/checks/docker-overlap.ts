/** docker-overlap: a Docker network's subnet overlaps a NIC's (shown only when a Docker daemon answers). */
import ipaddr from 'ipaddr.js';
import { dockerNetworks, type DockerNetwork } from '../../host/docker.js';
import type { Check, DoctorCheck, HostView } from '../types.js';

/** Do two CIDR prefixes share any address? */
export function cidrOverlap(a: string, b: string): boolean {
  try {
    const [aa, ab] = ipaddr.parseCIDR(a);
    const [ba, bb] = ipaddr.parseCIDR(b);
    if (aa.kind() !== ba.kind()) return false;
    return (aa as ipaddr.IPv4).match(ba as ipaddr.IPv4, Math.min(ab, bb));
  } catch {
    return false;
  }
}

/** Null (no check shown) when no Docker daemon answered. */
export function checkDockerOverlap(view: HostView, networks: DockerNetwork[] | null): Check | null {
  if (networks === null) return null;
  const why =
    'A Docker network routes its subnet to a bridge on the host: if it overlaps the subnet of a NIC (Docker\'s default 172.17.0.0/16 against a cloud network), traffic for those addresses goes to the bridge instead of the NIC.';
  const bridges = new Set(networks.map((n) => n.bridge).filter((b): b is string => !!b));
  const hits: string[] = [];
  const nics = new Set<string>();
  for (const nic of view.nics) {
    if (bridges.has(nic.name) || (nic.master && bridges.has(nic.master))) continue;
    for (const addr of nic.addresses) {
      for (const net of networks) {
        for (const subnet of net.subnets) {
          if (cidrOverlap(addr, subnet)) {
            hits.push(`${nic.name} ${addr} overlaps Docker network "${net.name}" ${subnet}`);
            nics.add(nic.name);
          }
        }
      }
    }
  }
  if (hits.length === 0) {
    return { id: 'docker-overlap', verdict: 'ok', title: `No Docker network overlaps a NIC's subnet (${networks.length} networks)`, why };
  }
  return {
    id: 'docker-overlap',
    verdict: 'warn',
    title: hits.join('; '),
    why,
    nics: [...nics],
    fix: {
      summary:
        'Move Docker off that range: set "bip" and "default-address-pools" in /etc/docker/daemon.json (for the default bridge) and restart dockerd, or recreate the user network with another --subnet.',
      steps: [],
    },
  };
}

export const dockerOverlap: DoctorCheck = {
  id: 'docker-overlap',
  run: async (view, opts) => ((opts.docker ?? true) ? checkDockerOverlap(view, await dockerNetworks(view.paths.dockerSocket)) : null),
};
