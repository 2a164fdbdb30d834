/** Which desired entries a runtime event is about. Pure. */
import { parseTarget } from '../request/parse.js';
import type { TargetSpec } from '../request/types.js';
import type { RuntimeEvent } from '../runtime/events.js';
import { describeTarget } from '../runtime/resolve.js';

/** One spelling per container, as entries are grouped and serialized (docker:web and DOCKER:web are one). */
export function containerKey(container: string): string {
  return describeTarget(parseTarget(container));
}

/** Does the container an entry names (its spec) match the container of the event? */
export function specMatches(spec: TargetSpec, ev: RuntimeEvent): boolean {
  switch (spec.kind) {
    case 'docker':
    case 'podman':
      return ev.runtime === spec.kind && (ev.name === spec.ref || ev.id === spec.ref || (spec.ref.length >= 4 && ev.id.startsWith(spec.ref)));
    case 'containerd':
      return ev.runtime === 'containerd' && (ev.id === spec.ref || ev.name === spec.ref) && (spec.namespace ?? 'default') === (ev.namespace ?? 'default');
    case 'name':
      return ev.name === spec.name || (ev.runtime === 'containerd' && ev.id === spec.name);
    case 'pid':
    case 'netns':
    case 'path':
      return false; // no runtime reports on them: the periodic resync does
  }
}

/**
 * Whether an entry may name a containerd container by the name nerdctl gave it
 * (`containerd:web`, or a bare name): `ctr events` carries only the id, so
 * such an event is matched again once that name is known.
 */
export function wantsContainerdNames(entries: readonly { container: string }[]): boolean {
  return entries.some((e) => ['containerd', 'name'].includes(parseTarget(e.container).kind));
}

/** The keys (containerKey) of the entries an event is about. */
export function keysFor(entries: readonly { container: string }[], ev: RuntimeEvent): string[] {
  const keys = new Set<string>();
  for (const e of entries) {
    if (specMatches(parseTarget(e.container), ev)) keys.add(containerKey(e.container));
  }
  return [...keys];
}
