/**
 * containerd, through `ctr` (shipped with containerd itself) or, when there is
 * no ctr, `nerdctl`. containerd has no names, only ids per namespace; nerdctl
 * keeps its names in the `nerdctl/name` label, which ctr can filter on, so
 * `containerd:web` finds a container `nerdctl run --name web` made.
 *
 * Namespaces: `containerd:<ns>/<id>` looks in <ns> only, `containerd:<id>` in
 * `default` only (what ctr and nerdctl use when given no namespace). A bare
 * word looks in every namespace except Docker's own (`moby`, whose containers
 * the docker resolver finds by name), k8s.io included: Kubernetes containers
 * are named there by their id, which a user can only have copied on purpose.
 *
 * The socket is CONTAINERD_ADDRESS or /run/containerd/containerd.sock;
 * containerd counts as present only when that socket exists.
 */
import { CommandError, UsageError } from '../errors.js';
import { read, readJson, type Cmd } from '../exec.js';
import {
  fromInspect,
  isSocket,
  onPath,
  RuntimeUnavailable,
  type Found,
  type Listed,
  type Runtime,
} from './common.js';

export const DEFAULT_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const DEFAULT_NAMESPACE = 'default';
/** Namespaces a bare word does not search: Docker's containers are resolved through Docker. */
const SKIPPED_NAMESPACES = new Set(['moby', 'plugins.moby']);
const NAME_LABEL = 'nerdctl/name';
/** Task states in which the container's init process, and so its namespace, is there. */
const LIVE_STATES = new Set(['RUNNING', 'PAUSED', 'PAUSING']);

/** A containerd that accepts but does not answer must not hang hostnic (ctr's own default is to wait). */
const CTR_TIMEOUTS = ['--connect-timeout', '2s', '--timeout', '2s'];

export function containerdSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CONTAINERD_ADDRESS || DEFAULT_CONTAINERD_SOCKET;
}

export interface ContainerdOptions {
  /** Default: CONTAINERD_ADDRESS or the standard socket, read at each call. */
  socketPath?: string;
  /** Which client to use; default: ctr if on PATH, else nerdctl. */
  tool?: 'ctr' | 'nerdctl';
}

interface Task {
  pid: number;
  status: string;
}

/** `ctr tasks ls`: a header `TASK PID STATUS`, then one task per line. */
export function parseTasks(out: string): Map<string, Task> {
  const tasks = new Map<string, Task>();
  for (const line of out.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && pid && status && /^\d+$/.test(pid)) tasks.set(id, { pid: Number(pid), status });
  }
  return tasks;
}

function lines(out: string): string[] {
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

export function containerdRuntime(opts: ContainerdOptions = {}): Runtime {
  const address = () => opts.socketPath ?? containerdSocketPath();
  const tool = (): 'ctr' | 'nerdctl' | undefined =>
    opts.tool ?? (onPath('ctr') ? 'ctr' : onPath('nerdctl') ? 'nerdctl' : undefined);

  const ctr = (ns: string | undefined, args: string[]): Cmd => ({
    argv: ['ctr', '--address', address(), ...CTR_TIMEOUTS, ...(ns ? ['--namespace', ns] : []), ...args],
  });
  const nerdctl = (ns: string | undefined, args: string[]): Cmd => ({
    argv: ['nerdctl', '--address', address(), ...(ns ? ['--namespace', ns] : []), ...args],
  });

  /** Run a read-only client command; a failure means containerd did not answer. */
  async function ask(cmd: Cmd): Promise<string> {
    try {
      return await read(cmd);
    } catch (e) {
      if (e instanceof CommandError) throw new RuntimeUnavailable('containerd', e.message);
      throw e;
    }
  }

  async function namespaces(scope: { namespace?: string; anyNamespace?: boolean }): Promise<string[]> {
    if (scope.namespace) return [scope.namespace];
    if (!scope.anyNamespace) return [DEFAULT_NAMESPACE];
    const cmd = tool() === 'nerdctl' ? nerdctl(undefined, ['namespace', 'ls', '-q']) : ctr(undefined, ['namespaces', 'ls', '-q']);
    return lines(await ask(cmd)).filter((ns) => !SKIPPED_NAMESPACES.has(ns));
  }

  async function findCtr(ns: string, ref: string): Promise<Found[]> {
    // Filters given together are OR'ed: the id, or the name nerdctl gave it.
    const ids = lines(await ask(ctr(ns, ['containers', 'ls', '-q', `id=="${ref}"`, `labels."${NAME_LABEL}"=="${ref}"`])));
    if (ids.length === 0) return [];
    const tasks = parseTasks(await ask(ctr(ns, ['tasks', 'ls'])));
    return Promise.all(
      ids.map(async (id): Promise<Found> => {
        let name = ref;
        if (id === ref) {
          const info = JSON.parse(await ask(ctr(ns, ['containers', 'info', id]))) as { Labels?: Record<string, string> };
          name = info.Labels?.[NAME_LABEL] ?? id;
        }
        const task = tasks.get(id);
        const running = !!task && LIVE_STATES.has(task.status) && task.pid > 0;
        return { runtime: 'containerd', id, name, namespace: ns, running, pid: running ? task.pid : 0 };
      }),
    );
  }

  async function findNerdctl(ns: string, ref: string): Promise<Found[]> {
    try {
      const docs = await readJson<unknown[]>(nerdctl(ns, ['container', 'inspect', ref]));
      return docs.map((d) => fromInspect('containerd', d, ns));
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      if (/multiple IDs found|ambiguous/i.test(e.stderr)) {
        throw new UsageError(`containerd: more than one container id in namespace ${ns} starts with "${ref}"; give more of the id, or the name`);
      }
      if (/no such (container|object)|not found/i.test(e.stderr)) return [];
      throw new RuntimeUnavailable('containerd', e.message);
    }
  }

  return {
    name: 'containerd',
    present: () => isSocket(address()) && tool() !== undefined,
    async find(ref, scope = {}) {
      const t = tool();
      if (!t) throw new RuntimeUnavailable('containerd', 'neither ctr nor nerdctl is on PATH');
      const nss = await namespaces(scope);
      const found = await Promise.all(nss.map((ns) => (t === 'ctr' ? findCtr(ns, ref) : findNerdctl(ns, ref))));
      return found.flat();
    },
    async listRunning(): Promise<Listed[]> {
      const t = tool();
      if (!t) return [];
      const nss = await namespaces({ anyNamespace: true });
      const perNs = await Promise.all(
        nss.map(async (ns): Promise<Listed[]> => {
          if (t === 'nerdctl') {
            const out = await ask(nerdctl(ns, ['ps', '--no-trunc', '--format', '{{.ID}}\t{{.Names}}']));
            return lines(out).map((line) => {
              const [id = '', name = ''] = line.split('\t');
              return { runtime: 'containerd', id, name: `${ns}/${name || id}` };
            });
          }
          const tasks = parseTasks(await ask(ctr(ns, ['tasks', 'ls'])));
          return [...tasks]
            .filter(([, task]) => LIVE_STATES.has(task.status))
            .map(([id]) => ({ runtime: 'containerd', id, name: `${ns}/${id}` }));
        }),
      );
      return perNs.flat();
    },
  };
}
