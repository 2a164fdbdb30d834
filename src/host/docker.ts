/**
 * Docker's networks, from the Engine API over its unix socket (GET /networks):
 * read-only, and quiet when no daemon answers.
 */
import { getJson } from '../runtime/http.js';

export interface DockerNetwork {
  name: string;
  id: string;
  driver: string;
  subnets: string[];
  /** The Linux bridge behind a bridge network (docker0, br-<id12>). */
  bridge: string | null;
}

interface ApiNetwork {
  Name?: string;
  Id?: string;
  Driver?: string;
  IPAM?: { Config?: { Subnet?: string }[] | null };
  Options?: Record<string, string> | null;
}

/** Docker's networks, or null when the socket is missing or nothing answers in time (getJson's timeout). */
export async function dockerNetworks(socketPath: string): Promise<DockerNetwork[] | null> {
  try {
    const res = await getJson('docker', socketPath, '/networks');
    return res.status === 200 && Array.isArray(res.body) ? (res.body as ApiNetwork[]).map(toNetwork) : null;
  } catch {
    return null;
  }
}

export function toNetwork(n: ApiNetwork): DockerNetwork {
  const id = n.Id ?? '';
  const driver = n.Driver ?? '';
  const named = n.Options?.['com.docker.network.bridge.name'];
  return {
    name: n.Name ?? id.slice(0, 12),
    id,
    driver,
    subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s),
    bridge: driver === 'bridge' ? named || `br-${id.slice(0, 12)}` : null,
  };
}
