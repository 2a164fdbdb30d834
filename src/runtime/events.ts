/**
 * The container runtimes' event streams, as one normalized event: a container
 * started, died (its task ended: its network namespace goes), or was removed.
 *
 *  - Docker: `GET /events` on its socket, filtered to container start, die
 *    and destroy (http.ts streamJson).
 *  - Podman: the same on its API socket when the service answers there
 *    (libpod's /events), else `podman events --format json` as a child.
 *  - containerd: `ctr events`, one line per event:
 *    `<time> <namespace> <topic> <json>`; /tasks/start, /tasks/exit,
 *    /tasks/delete and /containers/delete. Docker's own namespace (moby) is
 *    Docker's stream's business.
 *
 * follow() keeps one stream open: when it cannot connect or breaks off, it
 * tries again after a delay that starts at 0.5 s and doubles up to 30 s, and
 * starts at 0.5 s again once a stream was open. Each outage is told once (and
 * the return), so a runtime that is not there costs one log line, not one per try.
 */
import { streamLines, type Cmd } from '../exec.js';
import { isSocket, onPath, RuntimeUnavailable, type RuntimeName } from './common.js';
import { containerdSocketPath } from './containerd.js';
import { dockerSocketPath } from './docker.js';
import { streamJson } from './http.js';
import { podmanSocketPath } from './podman.js';

export type EventAction = 'start' | 'die' | 'destroy';

export interface RuntimeEvent {
  runtime: RuntimeName;
  /** The container's full id. */
  id: string;
  /** Its name (containerd: the id, as containerd has no names). */
  name: string;
  action: EventAction;
  /** containerd namespace. */
  namespace?: string;
}

const ACTIONS: Record<string, EventAction> = { start: 'start', die: 'die', died: 'die', destroy: 'destroy', remove: 'destroy' };

/**
 * A Docker or Podman event object (Engine API, libpod API, `podman events
 * --format json`) → a RuntimeEvent, or undefined for any other event.
 */
export function parseApiEvent(runtime: 'docker' | 'podman', doc: unknown): RuntimeEvent | undefined {
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as {
    Type?: unknown; Action?: unknown; Status?: unknown; status?: unknown; ID?: unknown; id?: unknown; Name?: unknown;
    Actor?: { ID?: unknown; Attributes?: Record<string, unknown> };
  };
  if (d.Type !== undefined && d.Type !== 'container') return undefined;
  const raw = [d.Action, d.Status, d.status].find((x) => typeof x === 'string') as string | undefined;
  const action = raw === undefined ? undefined : ACTIONS[raw];
  const id = [d.Actor?.ID, d.ID, d.id].find((x) => typeof x === 'string' && x !== '') as string | undefined;
  if (!action || !id) return undefined;
  const name = [d.Actor?.Attributes?.name, d.Name].find((x) => typeof x === 'string' && x !== '') as string | undefined;
  return { runtime, id, name: (name ?? id).replace(/^\//, ''), action };
}

const CTR_TOPICS: Record<string, EventAction> = {
  '/tasks/start': 'start',
  '/tasks/exit': 'die',
  '/tasks/delete': 'die',
  '/containers/delete': 'destroy',
};
/** Namespaces whose containers another runtime reports (Docker's). */
const FOREIGN_NAMESPACES = new Set(['moby', 'plugins.moby']);

/** One line of `ctr events` → a RuntimeEvent, or undefined for other topics and lines. */
export function parseCtrEvent(line: string): RuntimeEvent | undefined {
  // "2024-06-01 10:00:00.123456789 +0000 UTC default /tasks/start {...}"
  const m = /\s(\S+)\s(\/[a-z/]+)\s(\{.*\})\s*$/.exec(line);
  if (!m) return undefined;
  const [, namespace, topic, json] = m as unknown as [string, string, string, string];
  const action = CTR_TOPICS[topic];
  if (!action || FOREIGN_NAMESPACES.has(namespace)) return undefined;
  let body: { container_id?: unknown; id?: unknown };
  try {
    body = JSON.parse(json) as typeof body;
  } catch {
    return undefined;
  }
  const id = topic === '/containers/delete' ? body.id : body.container_id;
  if (typeof id !== 'string' || id === '') return undefined;
  return { runtime: 'containerd', id, name: id, action, namespace };
}

/** An open stream of one runtime's events; it ends (or throws RuntimeUnavailable) when the runtime goes. */
export type EventStream = (signal: AbortSignal) => AsyncIterable<RuntimeEvent>;

/** Why a runtime cannot be followed now (not installed, not up), or undefined when it can be tried. */
export type Absent = () => string | undefined;

const DOCKER_FILTERS = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['start', 'die', 'destroy'] }));

async function* fromApi(runtime: 'docker' | 'podman', socket: string, path: string, signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
  for await (const doc of streamJson(runtime, socket, path, signal)) {
    const ev = parseApiEvent(runtime, doc);
    if (ev) yield ev;
  }
}

/**
 * A reader must not outlive watch (a `kill -9` of watch would leave it to
 * run until its next write fails): under setpriv (util-linux), the kernel
 * kills it when its parent dies.
 */
function orphanProof(cmd: Cmd): Cmd {
  return onPath('setpriv') ? { ...cmd, argv: ['setpriv', '--pdeathsig', 'KILL', '--', ...cmd.argv] } : cmd;
}

async function* fromCommand(runtime: RuntimeName, cmd: Cmd, parse: (line: string) => RuntimeEvent | undefined, signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
  cmd = orphanProof(cmd);
  try {
    for await (const line of streamLines(cmd, signal)) {
      const ev = parse(line);
      if (ev) yield ev;
    }
  } catch (e) {
    if (signal.aborted) return;
    throw new RuntimeUnavailable(runtime, (e as Error).message);
  }
}

export interface Source {
  runtime: RuntimeName;
  absent: Absent;
  open: EventStream;
}

export function dockerSource(): Source {
  return {
    runtime: 'docker',
    absent: () => {
      const path = dockerSocketPath();
      if (!path) return 'DOCKER_HOST is not a unix socket: its events are not followed';
      return isSocket(path) ? undefined : `no socket at ${path}`;
    },
    open: (signal) => fromApi('docker', dockerSocketPath()!, `/events?filters=${DOCKER_FILTERS}`, signal),
  };
}

export function podmanSource(): Source {
  const socket = (): string | undefined => {
    const path = podmanSocketPath();
    return path && isSocket(path) ? path : undefined;
  };
  return {
    runtime: 'podman',
    absent: () => (socket() || onPath('podman') ? undefined : 'podman is not installed (no API socket, no podman on PATH)'),
    open: (signal) => {
      const path = socket();
      if (path) return fromApi('podman', path, `/v4.0.0/libpod/events?stream=true&filters=${DOCKER_FILTERS}`, signal);
      const argv = ['podman', 'events', '--format', 'json', '--filter', 'type=container',
        ...['start', 'died', 'remove'].flatMap((e) => ['--filter', `event=${e}`])];
      return fromCommand('podman', { argv, timeoutMs: 0 }, (l) => {
        try {
          return parseApiEvent('podman', JSON.parse(l));
        } catch {
          return undefined;
        }
      }, signal);
    },
  };
}

export function containerdSource(): Source {
  return {
    runtime: 'containerd',
    absent: () => {
      const path = containerdSocketPath();
      if (!onPath('ctr')) return 'ctr is not on PATH';
      return isSocket(path) ? undefined : `no socket at ${path}`;
    },
    open: (signal) => fromCommand('containerd', { argv: ['ctr', '--address', containerdSocketPath(), 'events'], timeoutMs: 0 }, parseCtrEvent, signal),
  };
}

export interface FollowHooks {
  onEvent(ev: RuntimeEvent): void;
  /** The stream is open (after being down, or for the first time). */
  onUp(runtime: RuntimeName): void;
  /** It could not be opened, or broke off; told once per change, with the reason. */
  onDown(runtime: RuntimeName, why: string): void;
}

export const BACKOFF = { firstMs: 500, maxMs: 30_000 };
/** A stream that stayed open this long (or sent an event) is up. */
const UP_AFTER_MS = 1000;

/** The delay before try `n` (0-based) after a failure. */
export function backoffMs(n: number): number {
  return Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** Math.min(n, 16));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follow one source until `signal` aborts: open it, pass on its events,
 * and open it again after a failure, with backoff. Never throws.
 */
export async function follow(source: Source, hooks: FollowHooks, signal: AbortSignal): Promise<void> {
  let failures = 0;
  let down: string | undefined = '';
  while (!signal.aborted) {
    const missing = source.absent();
    let why = missing;
    if (!missing) {
      try {
        const stream = source.open(signal);
        const iter = stream[Symbol.asyncIterator]();
        // Up once the first read is pending without an error: the HTTP status came, or the child started.
        // (Docker answers its status line at once but sends nothing until an event; a child may fail at once.)
        let first = iter.next();
        // A reader that fails within a second (podman that cannot reach its service) was never up: no "up", and the backoff grows.
        const early = await Promise.race([first.then(() => 'ok', () => 'failed'), sleep(UP_AFTER_MS, signal).then(() => 'ok')]);
        if (early === 'ok' && !signal.aborted) {
          if (down !== undefined) hooks.onUp(source.runtime);
          down = undefined;
          failures = 0;
        }
        for (;;) {
          const r = await first;
          if (r.done) break;
          hooks.onEvent(r.value);
          first = iter.next();
        }
        why = 'the event stream ended';
      } catch (e) {
        why = e instanceof Error ? e.message : String(e);
      }
    }
    if (signal.aborted) return;
    // One line per outage: the reason of later tries while it stays down is not news.
    if (down === undefined || down === '') hooks.onDown(source.runtime, why ?? 'unknown');
    down = why ?? 'unknown';
    await sleep(backoffMs(failures++), signal);
  }
}
