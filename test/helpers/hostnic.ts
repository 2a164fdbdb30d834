/** Helpers for suites that drive hostnic itself (pause points, snapshots lookups). */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { listNetns, signalGroup, type Lab, type Proc, type Snapshot, type SnapshotLink, type SnapshotRoute } from './lab.js';

/**
 * Wait until a hostnic started with HOSTNIC_TEST_HOOKS=1 and
 * HOSTNIC_TEST_PAUSE=<where> sits at that pause point (it writes
 * <stateDir>/test-paused and polls until the file is gone).
 */
export async function pausedAt(stateDir: string, where: string, timeoutMs = 20_000): Promise<void> {
  const marker = join(stateDir, 'test-paused');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(marker) && readFileSync(marker, 'utf8').startsWith(`${where} `)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`hostnic did not reach pause point ${where} within ${timeoutMs} ms`);
}

/**
 * Signal a paused hostnic (its process group, as a terminal does), wait until
 * it has seen the signal (it writes <stateDir>/test-signal), then resume it.
 * Resuming first would race: the step could finish before the signal lands.
 */
export async function signalThenResume(child: ChildProcess, signal: NodeJS.Signals, stateDir: string, timeoutMs = 10_000): Promise<void> {
  const ack = join(stateDir, 'test-signal');
  const seen = (): number => (existsSync(ack) ? readFileSync(ack, 'utf8').split('\n').filter((l) => l === signal).length : 0);
  const before = seen();
  signalGroup(child, signal);
  const deadline = Date.now() + timeoutMs;
  while (seen() === before) {
    if (Date.now() > deadline) throw new Error(`hostnic did not acknowledge ${signal} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  resume(stateDir);
}

/** Let a paused hostnic go on. */
export function resume(stateDir: string): void {
  rmSync(join(stateDir, 'test-paused'), { force: true });
}

/** hostnic's private namespaces that exist now (there should be none between runs). */
export async function hostnicTempNamespaces(): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith('hostnic-'));
}

export function linkIn(snap: Snapshot, name: string): SnapshotLink {
  const link = snap.links.find((l) => l.ifname === name);
  if (!link) throw new Error(`no link ${name} in snapshot (have ${snap.links.map((l) => l.ifname).join(', ')})`);
  return link;
}

/** Routes of the main table to `dst`, as { gateway, dev }. */
export function routesVia(routes: SnapshotRoute[], dst: string): { gateway?: string; dev?: string }[] {
  return routes
    .filter((r) => r.dst === dst && (r.table === undefined || r.table === 'main'))
    .map((r) => ({ ...(r.gateway ? { gateway: String(r.gateway) } : {}), ...(r.dev ? { dev: String(r.dev) } : {}) }));
}

/**
 * A snapshot without interface indexes. A NIC that visits a namespace where
 * its ifindex is taken gets a new one from the kernel and keeps it on the
 * way back (iproute2 cannot ask for the old index), so hostnic cannot
 * promise the same ifindex. Everything else must be equal.
 */
export function comparable(snap: Snapshot): Snapshot {
  return {
    ...snap,
    links: snap.links.map(({ ifindex: _i, link_index: _l, ...rest }) => rest as SnapshotLink),
  };
}

/** Give the container a link of its own named like the host NIC: hostnic then takes the NIC through its private namespace. */
export async function takeHostName(lab: Lab, ctr: Proc, name: string): Promise<void> {
  await lab.inNs(ctr.nsPath, ['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
}

/** Whether a dry-run plan goes through the private namespace. */
export const viaPrivateNamespace = (steps: { title: string }[]): boolean => steps.some((s) => /^Create private namespace /.test(s.title));

/**
 * comparable(snap) without one link and the routes through it: the host as
 * it should be after a veth NIC died with its container's namespace and
 * detach forgot it.
 */
export function withoutLink(snap: Snapshot, dev: string): Snapshot {
  const c = comparable(snap);
  const keep = (r: SnapshotRoute) => r.dev !== dev;
  return { ...c, links: c.links.filter((l) => l.ifname !== dev), routes4: c.routes4.filter(keep), routes6: c.routes6.filter(keep) };
}

/** Give a container a default route of its own (as Docker's eth0 would), to see it replaced and restored. */
export async function giveDefaultRoute(lab: Lab, ctr: Proc): Promise<void> {
  for (const argv of [
    ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0'],
    ['ip', 'addr', 'add', '172.31.0.2/24', 'dev', 'eth0'],
    ['ip', 'link', 'set', 'peer0', 'up'],
    ['ip', 'link', 'set', 'eth0', 'up'],
    ['ip', 'route', 'add', 'default', 'via', '172.31.0.1', 'dev', 'eth0'],
  ]) {
    const r = await lab.inNs(ctr.nsPath, argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
}
