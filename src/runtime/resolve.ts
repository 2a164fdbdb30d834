/**
 * Turn a TargetSpec into a Target: the container's network namespace file and
 * its identity. pid/netns/path are resolved here; container runtimes plug in
 * through runtime/index.ts.
 */
import { existsSync, statfsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { netnsId, ownNetns } from '../kernel/ip.js';
import type { TargetSpec } from '../request/types.js';
import type { Target } from './types.js';

const NSFS_MAGIC = 0x6e736673;

function isNetnsFile(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export function describeTarget(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'pid': return `pid:${spec.pid}`;
    case 'netns': return `netns:${spec.name}`;
    case 'path': return spec.path;
    case 'name': return spec.name;
    case 'containerd': return `containerd:${spec.namespace ? `${spec.namespace}/` : ''}${spec.ref}`;
    default: return `${spec.kind}:${spec.ref}`;
  }
}

function fromPath(display: string, kind: Target['kind'], nsPath: string, pid?: number): Target {
  if (!isNetnsFile(nsPath)) throw new UsageError(`${display}: ${nsPath} is not a network namespace`);
  const target: Target = { display, kind, nsPath, nsId: netnsId(nsPath), ...(pid ? { pid } : {}) };
  if (target.nsId === netnsId(ownNetns())) {
    throw new UsageError(`${display} is in hostnic's own network namespace: the NIC would not move`);
  }
  return target;
}

export async function resolveTarget(spec: TargetSpec): Promise<Target> {
  const display = describeTarget(spec);
  switch (spec.kind) {
    case 'pid': {
      if (!existsSync(`/proc/${spec.pid}`)) throw new UsageError(`no process with PID ${spec.pid}`);
      return fromPath(display, 'pid', `/proc/${spec.pid}/ns/net`, spec.pid);
    }
    case 'netns': {
      const path = `/run/netns/${spec.name}`;
      if (!existsSync(path)) throw new UsageError(`no network namespace named "${spec.name}" in /run/netns`);
      return fromPath(display, 'netns', path);
    }
    case 'path': {
      if (!existsSync(spec.path)) throw new UsageError(`no such namespace file ${spec.path}`);
      const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(spec.path)?.[1];
      return fromPath(display, 'path', spec.path, pid ? Number(pid) : undefined);
    }
    default: {
      const { resolveRuntimeTarget } = await import('./index.js');
      return resolveRuntimeTarget(spec);
    }
  }
}

/** Is the namespace a Target was resolved to still the same one? */
export function targetAlive(t: Target): boolean {
  try {
    return netnsId(t.nsPath) === t.nsId;
  } catch {
    return false;
  }
}
