/**
 * Resolve a container named through a runtime (`docker:web`, `podman:web`,
 * `containerd:[ns/]id`, or a bare word looked up in every runtime present) to
 * its network namespace.
 *
 * Bare words: every runtime present is asked at once. Exactly one running
 * match is used; several are a usage error that lists their explicit forms; a
 * runtime that does not answer (daemon down or hung) is named in the error
 * only when nothing else matched. A container reported by two runtimes under
 * one id (podman's docker shim) counts once.
 */
import { NotRunning, RuntimeDown, UsageError } from '../errors.js';
import { netnsId, ownNetns } from '../kernel/ip.js';
import { checkContainerRef } from '../request/target.js';
import type { TargetSpec } from '../request/types.js';
import type { Target } from './types.js';
import { RuntimeUnavailable, type Found, type Runtime, type RuntimeName } from './common.js';
import { containerdRuntime, DEFAULT_NAMESPACE } from './containerd.js';
import { dockerRuntime } from './docker.js';
import { podmanRuntime } from './podman.js';

export type RuntimeTargetSpec = Extract<TargetSpec, { kind: 'docker' | 'podman' | 'containerd' | 'name' }>;
export type { Found, Listed, Runtime, RuntimeName } from './common.js';
export { RuntimeUnavailable } from './common.js';

/** The runtime clients, in the order they are asked and listed. */
export function defaultRuntimes(): Runtime[] {
  return [dockerRuntime(), podmanRuntime(), containerdRuntime()];
}

/** How a found container is written explicitly: docker:web, containerd:default/web. */
export function explicitForm(c: Found): string {
  return c.runtime === 'containerd' ? `containerd:${c.namespace ?? DEFAULT_NAMESPACE}/${c.name}` : `${c.runtime}:${c.name}`;
}

function nsIdOrUndefined(path: string): string | undefined {
  try {
    return netnsId(path);
  } catch {
    return undefined;
  }
}

function toTarget(c: Found, asked: string): Target {
  const display = explicitForm(c);
  const nsPath = `/proc/${c.pid}/ns/net`;
  const nsId = nsIdOrUndefined(nsPath);
  // The container may have stopped between the runtime's answer and now.
  if (!nsId) throw new NotRunning(`container ${asked} is not running`);
  if (nsId === nsIdOrUndefined(ownNetns()) || nsId === nsIdOrUndefined('/proc/1/ns/net')) {
    throw new UsageError(`${display} uses the host's network namespace (--network host): there is no namespace to move the NIC into`);
  }
  return {
    display,
    kind: c.runtime,
    nsPath,
    nsId,
    pid: c.pid,
    runtime: {
      name: c.runtime,
      id: c.id,
      containerName: c.name,
      ...(c.namespace ? { namespace: c.namespace } : {}),
    },
  };
}

function dedupe(found: Found[]): Found[] {
  const seen = new Set<string>();
  return found.filter((c) => {
    const key = `${c.namespace ?? ''}/${c.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

async function resolveExplicit(
  spec: Extract<RuntimeTargetSpec, { kind: RuntimeName }>,
  runtimes: Runtime[],
): Promise<Target> {
  const ns = spec.kind === 'containerd' ? spec.namespace : undefined;
  const display = `${spec.kind}:${ns ? `${ns}/` : ''}${spec.ref}`;
  // Checked again where the ref goes into an API path or a containerd filter.
  const ref = checkContainerRef(display, spec.ref.replace(/^\//, ''), 'container name or id');
  if (ns !== undefined) checkContainerRef(display, ns, 'containerd namespace');
  const rt = runtimes.find((r) => r.name === spec.kind);
  if (!rt || !rt.present()) throw new RuntimeDown(`${display}: ${spec.kind} is not present on this host`);
  let found: Found[];
  try {
    found = await rt.find(ref, { namespace: ns });
  } catch (e) {
    if (e instanceof RuntimeUnavailable) throw new RuntimeDown(`${display}: ${e.reason}`);
    throw e;
  }
  found = dedupe(found);
  if (found.length === 0) {
    const where = spec.kind === 'containerd' ? `containerd namespace ${ns ?? DEFAULT_NAMESPACE}` : spec.kind;
    throw new NotRunning(`no container ${ref} in ${where}`);
  }
  const running = found.filter((c) => c.running);
  if (running.length > 1) {
    throw new UsageError(`${display} matches several running containers: ${running.map(explicitForm).join(', ')}`);
  }
  if (running.length === 0) throw new NotRunning(`container ${ref} is not running`);
  return toTarget(running[0]!, ref);
}

async function resolveBare(name: string, runtimes: Runtime[]): Promise<Target> {
  checkContainerRef(name, name, 'container name');
  const present = runtimes.filter((r) => r.present());
  if (present.length === 0) {
    throw new NotRunning(`no container runtime found to look up "${name}" (looked for ${runtimes.map((r) => r.name).join(', ')})`);
  }
  const answers = await Promise.allSettled(present.map((r) => r.find(name, { anyNamespace: true })));
  const asked: RuntimeName[] = [];
  const silent: string[] = [];
  const found: Found[] = [];
  for (const [i, a] of answers.entries()) {
    if (a.status === 'fulfilled') {
      asked.push(present[i]!.name);
      found.push(...a.value);
    } else if (a.reason instanceof RuntimeUnavailable) {
      silent.push(a.reason.message);
    } else {
      throw a.reason; // an ambiguous id prefix, or a bug
    }
  }
  const all = dedupe(found);
  const running = all.filter((c) => c.running);
  if (running.length === 1) return toTarget(running[0]!, name);
  if (running.length > 1) {
    throw new UsageError(`"${name}" matches several running containers: ${running.map(explicitForm).join(', ')}; name one of them`);
  }
  if (all.length > 0) throw new NotRunning(`container ${name} is not running (${all.map(explicitForm).join(', ')})`);
  if (asked.length === 0) throw new RuntimeDown(`cannot look up "${name}": ${silent.join('; ')}`);
  const unanswered = silent.length ? ` (no answer from ${silent.join('; ')})` : '';
  throw new NotRunning(`no running container named ${name} in ${asked.join(', ')}${unanswered}`);
}

/**
 * Find a container through its runtime and return its network namespace:
 * `/proc/<pid>/ns/net` of its init process, with that file's identity.
 * Every failure is a one-line UsageError (exit 2).
 */
export async function resolveRuntimeTarget(
  spec: RuntimeTargetSpec,
  runtimes: Runtime[] = defaultRuntimes(),
): Promise<Target> {
  return spec.kind === 'name' ? resolveBare(spec.name, runtimes) : resolveExplicit(spec, runtimes);
}

/**
 * Running containers of every runtime present, for shell completion. Never
 * throws: a runtime that does not answer contributes nothing. containerd's
 * `name` is `<namespace>/<id>`, so `containerd:<name>` is its explicit form.
 */
export async function listRunningContainers(
  runtimes: Runtime[] = defaultRuntimes(),
): Promise<{ runtime: string; name: string; id: string }[]> {
  const lists = await Promise.allSettled(runtimes.filter((r) => r.present()).map((r) => r.listRunning()));
  return lists.flatMap((l) => (l.status === 'fulfilled' ? l.value : []));
}
