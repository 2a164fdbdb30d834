/**
 * Podman: its API socket when there is one (CONTAINER_HOST=unix://..., or
 * /run/podman/podman.sock, which systemd's podman.socket provides), else
 * `podman container inspect` when podman is on PATH. Podman has no daemon:
 * without the socket every lookup costs a podman process.
 */
import { readFileSync } from 'node:fs';
import { CommandError, UsageError } from '../errors.js';
import { readJson } from '../exec.js';
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

export const DEFAULT_PODMAN_SOCKET = '/run/podman/podman.sock';

export function podmanSocketPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.CONTAINER_HOST;
  if (host) return unixPath(host);
  return DEFAULT_PODMAN_SOCKET;
}

/** Podman says this (with HTTP 404 on the API) when an id prefix is not unique. */
const AMBIGUOUS = /more than one result for container/i;
const NO_SUCH = /no such container|no container with name or id/i;

function ambiguous(ref: string): UsageError {
  return new UsageError(`podman: more than one container id starts with "${ref}"; give more of the id, or the name`);
}

export interface PodmanOptions {
  /** Socket to use; null: behave as if there were none (CLI). Default: from CONTAINER_HOST, read at each call. */
  socketPath?: string | null;
}

/** containers/storage's root: storage.conf's graphroot, else the default for root. */
function graphRoot(): string {
  const conf = process.env.CONTAINERS_STORAGE_CONF ?? '/etc/containers/storage.conf';
  try {
    const m = /^\s*graphroot\s*=\s*"([^"]+)"/m.exec(readFileSync(conf, 'utf8'));
    if (m) return m[1]!;
  } catch { /* no storage.conf: the default */ }
  return '/var/lib/containers/storage';
}

/**
 * Could podman's container store hold `ref` (a name, or an id prefix)? Reads
 * `<graphroot>/<driver>-containers/containers.json`, the store's own index.
 * undefined when there is no index to read (then podman must be asked).
 */
export function storeMayHave(ref: string, root = graphRoot()): boolean | undefined {
  let readAny = false;
  for (const driver of ['overlay', 'vfs', 'btrfs', 'zfs']) {
    let list: unknown;
    try {
      list = JSON.parse(readFileSync(`${root}/${driver}-containers/containers.json`, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return undefined;
    }
    if (!Array.isArray(list)) return undefined;
    readAny = true;
    const hit = (list as { id?: string; names?: string[] }[])
      .some((c) => (typeof c.id === 'string' && c.id.startsWith(ref)) || (c.names ?? []).includes(ref));
    if (hit) return true;
  }
  return readAny ? false : undefined;
}

export function podmanRuntime(opts: PodmanOptions = {}): Runtime {
  const socket = (): string | undefined => {
    const path = opts.socketPath === undefined ? podmanSocketPath() : (opts.socketPath ?? undefined);
    return path && isSocket(path) ? path : undefined;
  };

  async function findApi(path: string, ref: string): Promise<Found[]> {
    const ref_ = encodeURIComponent(ref);
    let res = await getJson('podman', path, `/v4.0.0/libpod/containers/${ref_}/json`);
    if (res.status === 404 && !AMBIGUOUS.test(errorMessage(res.body)) && !NO_SUCH.test(errorMessage(res.body))) {
      // A socket without the libpod API (an old podman, or a docker-compat proxy).
      res = await getJson('podman', path, `/containers/${ref_}/json`);
    }
    if (res.status === 200) return [fromInspect('podman', res.body)];
    const message = errorMessage(res.body);
    if (AMBIGUOUS.test(message)) throw ambiguous(ref);
    if (res.status === 404) return [];
    throw new RuntimeUnavailable('podman', `HTTP ${res.status}: ${message}`);
  }

  async function findCli(ref: string): Promise<Found[]> {
    // Without a socket every question costs a podman process: ask only when
    // podman's own container store may hold the name or id.
    if (storeMayHave(ref) === false) return [];
    try {
      const docs = await readJson<unknown[]>({ argv: ['podman', 'container', 'inspect', '--format', 'json', ref] });
      return docs.map((d) => fromInspect('podman', d));
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      if (AMBIGUOUS.test(e.stderr)) throw ambiguous(ref);
      if (NO_SUCH.test(e.stderr)) return [];
      throw new RuntimeUnavailable('podman', e.message);
    }
  }

  return {
    name: 'podman',
    present: () => socket() !== undefined || onPath('podman') !== undefined,
    find(ref) {
      const path = socket();
      return path ? findApi(path, ref) : findCli(ref);
    },
    async listRunning(): Promise<Listed[]> {
      const path = socket();
      let list: unknown;
      if (path) {
        const res = await getJson('podman', path, '/v4.0.0/libpod/containers/json');
        if (res.status !== 200) throw new RuntimeUnavailable('podman', `HTTP ${res.status}: ${errorMessage(res.body)}`);
        list = res.body;
      } else {
        list = await readJson<unknown>({ argv: ['podman', 'ps', '--format', 'json'] });
      }
      if (!Array.isArray(list)) return [];
      return (list as { Id: string; Names?: string[] }[]).map((c) => ({
        runtime: 'podman' as const,
        id: c.Id,
        name: c.Names?.[0] ?? c.Id,
      }));
    },
  };
}
