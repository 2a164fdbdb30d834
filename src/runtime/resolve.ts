/**
 * Turn a TargetSpec into a Target: the container's network namespace file and
 * its identity. pid/netns/path are resolved here; container runtimes plug in
 * through runtime/index.ts.
 */
import { existsSync, readFileSync, readlinkSync, statSync, statfsSync } from 'node:fs';
import { read } from '../exec.js';
import { NotRunning, UsageError } from '../errors.js';
import { netnsId, ownNetns } from '../kernel/ip.js';
import type { TargetSpec } from '../request/types.js';
import type { Target } from './types.js';

const NSFS_MAGIC = 0x6e736673;

/**
 * The type of a namespace file ("net", "mnt", ...), as the kernel names it;
 * undefined for a file that is not a namespace at all (not on nsfs), or ''
 * when nsfs but the type cannot be read here. nsfs names every namespace
 * `TYPE:[INODE]`: a /proc/PID/ns/X link reads so, and a bind mount of one
 * (`ip netns add`, a runtime's /run/.../netns/ID) shows it as its root in
 * /proc/self/mountinfo. (The kernel's own check, NS_GET_NSTYPE, is an ioctl
 * Node cannot make; setns(2) with CLONE_NEWNET, as nsenter --net does, makes
 * the same check and is the last resort.)
 */
export function nsTypeOf(path: string): string | undefined {
  try {
    if (statfsSync(path).type !== NSFS_MAGIC) return undefined;
  } catch {
    return undefined;
  }
  try {
    const m = /^(\w+):\[\d+\]$/.exec(readlinkSync(path));
    if (m) return m[1];
  } catch { /* not a symlink: a bind mount */ }
  try {
    const ino = statSync(path).ino;
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const m = /^(\w+):\[(\d+)\]$/.exec(line.split(' ')[3] ?? '');
      if (m && Number(m[2]) === ino) return m[1];
    }
  } catch { /* no mountinfo */ }
  return '';
}

async function isNetnsFile(display: string, path: string): Promise<void> {
  const type = nsTypeOf(path);
  if (type === undefined) throw new UsageError(`${display}: ${path} is not a network namespace (not a namespace file at all)`, 'name a network namespace: /proc/PID/ns/net, /run/netns/NAME, pid:PID, netns:NAME or a container');
  if (type === 'net') return;
  if (type === '') {
    // The kernel decides: setns(2) refuses a namespace of another type.
    try {
      await read({ argv: ['true'], netns: path });
      return;
    } catch { /* not a network namespace */ }
  }
  throw new UsageError(
    `${display}: ${path} is ${type ? `a ${type} namespace` : 'a namespace of another type'}, not a network namespace`,
    type === '' ? undefined : `its network namespace is ${path.replace(/\/ns\/\w+$/, '/ns/net')}`,
  );
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

async function fromPath(display: string, kind: Target['kind'], nsPath: string, pid?: number): Promise<Target> {
  await isNetnsFile(display, nsPath);
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
      if (!existsSync(path)) throw new NotRunning(`no network namespace named "${spec.name}" in /run/netns`);
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
