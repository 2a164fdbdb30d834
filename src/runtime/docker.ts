/**
 * Docker: the Engine API on its unix socket (DOCKER_HOST=unix://..., default
 * /var/run/docker.sock), so that resolving a container starts no process.
 * `GET /containers/{ref}/json` resolves a name, a full id or a unique id
 * prefix on the daemon's side. The docker CLI is used only when there is no
 * socket (DOCKER_HOST=tcp://... or ssh://..., where the CLI knows the way).
 */
import { CommandError, UsageError } from '../errors.js';
import { read, readJson } from '../exec.js';
import {
  fromInspect,
  isSocket,
  onPath,
  RuntimeUnavailable,
  unixPath,
  type Found,
  type Listed,
  type Runtime,
} from './common.js';
import { errorMessage, getJson } from './http.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The socket DOCKER_HOST names, or the default one; undefined when DOCKER_HOST is not a unix socket. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.DOCKER_HOST;
  if (host) return unixPath(host);
  return DEFAULT_DOCKER_SOCKET;
}

const AMBIGUOUS = /multiple IDs found/i;

function ambiguous(ref: string): UsageError {
  return new UsageError(`docker: more than one container id starts with "${ref}"; give more of the id, or the name`);
}

export interface DockerOptions {
  /** Socket to use; null: behave as if there were none (CLI). Default: from DOCKER_HOST, read at each call. */
  socketPath?: string | null;
}

export function dockerRuntime(opts: DockerOptions = {}): Runtime {
  const socket = (): string | undefined => {
    const path = opts.socketPath === undefined ? dockerSocketPath() : (opts.socketPath ?? undefined);
    return path && isSocket(path) ? path : undefined;
  };

  async function findApi(path: string, ref: string): Promise<Found[]> {
    const res = await getJson('docker', path, `/containers/${encodeURIComponent(ref)}/json`);
    if (res.status === 200) return [fromInspect('docker', res.body)];
    const message = errorMessage(res.body);
    if (AMBIGUOUS.test(message)) throw ambiguous(ref);
    if (res.status === 404) return [];
    throw new RuntimeUnavailable('docker', `HTTP ${res.status}: ${message}`);
  }

  async function findCli(ref: string): Promise<Found[]> {
    try {
      const docs = await readJson<unknown[]>({ argv: ['docker', 'container', 'inspect', ref] });
      return docs.map((d) => fromInspect('docker', d));
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      if (AMBIGUOUS.test(e.stderr)) throw ambiguous(ref);
      if (/no such (container|object)/i.test(e.stderr)) return [];
      throw new RuntimeUnavailable('docker', e.message);
    }
  }

  return {
    name: 'docker',
    present: () => socket() !== undefined || onPath('docker') !== undefined,
    find(ref) {
      const path = socket();
      return path ? findApi(path, ref) : findCli(ref);
    },
    async listRunning(): Promise<Listed[]> {
      const path = socket();
      if (path) {
        const res = await getJson('docker', path, '/containers/json');
        if (res.status !== 200 || !Array.isArray(res.body)) {
          throw new RuntimeUnavailable('docker', `HTTP ${res.status}: ${errorMessage(res.body)}`);
        }
        return (res.body as { Id: string; Names?: string[] }[]).map((c) => ({
          runtime: 'docker' as const,
          id: c.Id,
          // Legacy links add names like /other/alias: the container's own has one slash.
          name: (c.Names ?? []).find((n) => n.lastIndexOf('/') === 0)?.slice(1) ?? c.Id,
        }));
      }
      const out = await read({ argv: ['docker', 'ps', '--no-trunc', '--format', '{{.ID}}\t{{.Names}}'] });
      return out
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [id = '', names = ''] = line.split('\t');
          return { runtime: 'docker' as const, id, name: names.split(',').find((n) => !n.includes('/')) ?? id };
        });
    },
  };
}
