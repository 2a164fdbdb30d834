/**
 * Docker's networks, from the Engine API over its unix socket (GET /networks):
 * read-only, and quiet when no daemon answers.
 */
import { request } from 'node:http';

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

/** Docker's networks, or null when the socket is missing or nothing answers in time. */
export function dockerNetworks(socketPath: string, timeoutMs = 3000): Promise<DockerNetwork[] | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: DockerNetwork[] | null) => {
      if (!done) {
        done = true;
        resolve(v);
      }
    };
    const req = request({ socketPath, path: '/networks', method: 'GET', headers: { Host: 'docker' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return finish(null);
        try {
          finish((JSON.parse(body) as ApiNetwork[]).map(toNetwork));
        } catch {
          finish(null);
        }
      });
      res.on('error', () => finish(null));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      finish(null);
    });
    req.on('error', () => finish(null));
    req.end();
  });
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
