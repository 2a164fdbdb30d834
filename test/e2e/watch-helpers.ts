/**
 * What the watch suites share: a desired file, a running `hostnic watch
 * --json` in the lab host with its log parsed, and "the kernel returns a
 * physical NIC" for lab veths.
 *
 * Lab rule: a lab NIC is a veth, and a veth dies with its namespace, where a
 * physical NIC goes back to the initial namespace (under its container-side
 * name, or devIFINDEX when that is taken). returnToHost() does that move by
 * hand before the runtime tears the namespace down: a case that calls it
 * covers the physical-return path; a case that does not covers a virtual NIC
 * dying with the container.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { collect, delay, waitForExit, type Lab, type RunResult } from '../helpers/lab.js';

export const ADDR = '192.168.1.30';
export const MTU = 1450;

export interface Entry {
  container: string;
  nic: string;
  addresses?: string[];
  mtu?: number;
  name?: string;
  'dhcp-timeout'?: number;
}

/** The desired file (JSON, which is YAML), 0600 in the lab's state directory's parent. */
export function writeDesired(path: string, entries: Entry[]): void {
  writeFileSync(path, `${JSON.stringify({ attachments: entries }, null, 2)}\n`, { mode: 0o600 });
}

export interface LogLine {
  event: string;
  message: string;
  container?: string;
  nic?: string;
  [k: string]: unknown;
}

export interface Watch {
  child: ChildProcess;
  lines(): LogLine[];
  /** Wait until `count` lines match (default 1); returns them. */
  until(pred: (l: LogLine) => boolean, count?: number, timeoutMs?: number): Promise<LogLine[]>;
  /** Wait until the log has been still for `ms` (the resyncs of the start are over). */
  quiet(ms?: number): Promise<void>;
  /** SIGTERM, and its exit. */
  stop(): Promise<RunResult>;
}

export function startWatch(lab: Lab, file: string, env: Record<string, string> = {}, extra: string[] = []): Watch {
  const child = lab.spawnHostnic(['watch', '--json', '-f', file, ...extra], { env });
  const box = collect(child);
  const lines = (): LogLine[] => box.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  let ended = false;
  void box.done.then(() => { ended = true; });
  return {
    child,
    lines,
    async until(pred, count = 1, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = lines().filter(pred);
        if (hits.length >= count) return hits;
        if (ended || Date.now() > deadline) {
          throw new Error(`${ended ? 'watch ended' : 'timed out'} waiting for ${count} log line(s); log:\n${box.stdout}\n${box.stderr}`);
        }
        await delay(20);
      }
    },
    async quiet(ms = 1000) {
      let n = -1;
      while (n !== box.stdout.length) {
        n = box.stdout.length;
        await delay(ms);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
      }
      return waitForExit(child);
    },
  };
}

export const attachedTo = (container: string) => (l: LogLine): boolean => l.event === 'attached' && l.container === container;

/** Move a NIC out of a container's namespace into the lab host, as the kernel does with a physical NIC when the namespace dies. */
export async function returnToHost(lab: Lab, nsPath: string, ifname: string): Promise<string> {
  const show = await lab.inNs(nsPath, ['ip', '-json', 'link', 'show', 'dev', ifname]);
  const index = (JSON.parse(show.stdout) as { ifindex: number }[])[0]!.ifindex;
  const taken = (await lab.inNs(lab.host, ['ip', 'link', 'show', 'dev', ifname])).exitCode === 0;
  const name = taken ? `dev${index}` : ifname;
  const r = await lab.inNs(nsPath, ['ip', 'link', 'set', 'dev', ifname, 'netns', lab.hostNs, ...(taken ? ['name', name] : [])]);
  expect(r.exitCode, r.stderr).toBe(0);
  return name;
}

/** The NIC in the container: its address, MTU, up, the default route through it, and a ping to the lab gateway through it. */
export async function expectAttached(lab: Lab, nsPath: string, ifname = 'eth1', mtu = MTU): Promise<void> {
  const link = JSON.parse((await lab.inNs(nsPath, ['ip', '-json', 'addr', 'show', 'dev', ifname])).stdout || '[]') as
    { mtu: number; operstate: string; flags: string[]; addr_info: { local: string; prefixlen: number }[] }[];
  expect(link[0], `${ifname} in ${nsPath}`).toBeDefined();
  expect(link[0]!.mtu).toBe(mtu);
  expect(link[0]!.flags).toContain('UP');
  expect(link[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain(`${ADDR}/24`);
  const def = JSON.parse((await lab.inNs(nsPath, ['ip', '-json', 'route', 'show', 'default'])).stdout || '[]') as { gateway?: string; dev?: string }[];
  expect(def).toEqual([expect.objectContaining({ gateway: lab.gw4, dev: ifname })]);
  expect(await lab.ping(nsPath, lab.gw4)).toBe(true);
}

/** A fresh directory (0700) for a desired file; remove it after the test. */
export function desiredDir(): string {
  return mkdtempSync(join(tmpdir(), 'hostnic-desired-'));
}
