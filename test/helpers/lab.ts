/**
 * The throwaway lab every end-to-end test runs in (DESIGN.md, "Testing on
 * these machines"). Real kernel, no mocks; nothing outside namespaces the lab
 * creates is ever touched (never the machine's eth0 or its default route).
 *
 *   cloud netns `hnc-<id>`                         host netns `hnh-<id>` (hostnic runs here)
 *   ┌───────────────────────────────┐              ┌──────────────────────────────┐
 *   │ lo: 198.51.100.1/32           │              │ lo                           │
 *   │     fd00:99::1/128  (remote)  │   veth pair  │ nic1, nic2, ...  (addNic)    │
 *   │ br0: 192.168.1.1/24 ──────────┼── c1-nic1 ───┼─ nic1                        │
 *   │      fd00:1::1/64   (gateway) │              │ uplink0 192.168.1.250/24,    │
 *   └───────────────────────────────┘              │   fd00:1::250/64, default    │
 *                                                  │   routes (addPrimary)        │
 *   containers: `unshare --net sleep infinity`     └──────────────────────────────┘
 *   (addContainer); named netns `hnn-<id>-<n>` (addNetns)
 *
 * Usage:
 *
 *     const root = requireRoot();
 *     describe.skipIf(!root)('attach', () => {
 *       let lab: Lab;
 *       beforeEach(async () => { lab = await createLab(); });
 *       afterEach(async () => { await lab.destroy(); });
 *       it('...', async () => {
 *         const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
 *         const ctr = await lab.addContainer();
 *         const before = await lab.snapshot(lab.host);
 *         const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.10/24@192.168.1.1']);
 *         expect(r.exitCode).toBe(0);
 *         expect(await lab.ping(ctr.nsPath, lab.gw4)).toBe(true);
 *       });
 *     });
 *
 * hostnic runs under `nsenter --net` only: it shares the machine's mount
 * namespace (so its `ip netns add hostnic-...` bind mounts behave as on a real
 * host), but /sys is the machine's, not the lab's: code that reads
 * /sys/class/net would see the VM's devices. Read links through netlink
 * (`ip -json`) and /proc/sys (which is per netns).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync, rmSync, type Dirent } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect, delay, inNs as runInNs, must, mustInNs, nsArgv, nsPath, run, type RunResult } from './run.js';
import { snapshot as takeSnapshot, type Snapshot, type SnapshotOptions } from './snapshot.js';

export type { RunResult } from './run.js';
export type { Snapshot, SnapshotLink, SnapshotAddr, SnapshotRoute, SnapshotOptions } from './snapshot.js';
export { snapshot, linkOf, normalize, NORMALIZED, SYSCTL_KEYS } from './snapshot.js';
export { run, must, inNs, mustInNs, nsPath, waitForExit, waitForOutput, collect, delay } from './run.js';

/** Absolute path of the repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CLI the lab runs by default. */
export const CLI = join(REPO, 'bin', 'hostnic');

function ciIsSet(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * True when running as root. Not root: throws when CI is set (a root-only
 * suite must never be skipped silently in CI), else false, for
 * `describe.skipIf(!requireRoot())`.
 */
export function requireRoot(): boolean {
  const root = process.getuid?.() === 0;
  if (!root && ciIsSet()) {
    throw new Error(
      'hostnic end-to-end tests need root (they create network namespaces); CI is set, so they may not be skipped. Run the suite as root.',
    );
  }
  return root;
}

/** Names of the namespaces in /run/netns (sorted). */
export async function listNetns(): Promise<string[]> {
  try {
    return (await readdir('/run/netns')).sort();
  } catch {
    return [];
  }
}

export interface Proc {
  pid: number;
  /** /proc/PID/ns/net */
  nsPath: string;
  /** Signal it (default SIGKILL) and wait until it is gone (SIGKILL after 5 s if it ignores the signal). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NicOptions {
  /** Host-side name (default: the first free nic1, nic2, ...). */
  name?: string;
  mtu?: number;
  /** 'ip/prefix' strings, added in this order (IPv6 with DAD, as a real NIC). */
  addrs?: string[];
  /** Bring the link up (default true). */
  up?: boolean;
  alias?: string;
  mac?: string;
}

export interface HostnicOptions {
  /** Merged over HOSTNIC_STATE_DIR, NO_COLOR=1, CI=true (and the test's own environment). */
  env?: Record<string, string>;
  input?: string;
  /** Default 45 s (below the 60 s test timeout, so a hang shows up as a result). */
  timeoutMs?: number;
}

export interface PingOptions {
  /** How long to keep trying (default 5000 ms): IPv6 DAD can hold an address for ~2 s. */
  timeoutMs?: number;
}

export interface Lab {
  /** 6 random base36 characters. */
  id: string;
  /** netns name of the lab host (where hostnic runs): hnh-<id> */
  host: string;
  /** netns name of the lab cloud (bridge br0, gateway, remote): hnc-<id> */
  cloud: string;
  /** /run/netns/<host> */
  hostNs: string;
  /** A fresh directory (0700) passed as HOSTNIC_STATE_DIR. */
  stateDir: string;
  gw4: string;
  gw6: string;
  /** Addresses on the cloud's lo, beyond the gateway (for --route). */
  remote4: string;
  remote6: string;
  /** The CLI that hostnic() runs. */
  cli: string;
  /** A veth: `name` in host, its peer in cloud enslaved to br0 and up. Returns the host-side name. */
  addNic(opts?: NicOptions): Promise<string>;
  /** `uplink0` with 192.168.1.250/24, fd00:1::250/64 and the default routes (v4, v6) via the gateway. */
  addPrimary(): Promise<string>;
  /** The cloud-side peer of a NIC made by addNic (e.g. to check its carrier). */
  peerOf(nic: string): string;
  /** A process in a netns of its own (`unshare --net sleep infinity`), lo up, baseline sysctls. */
  addContainer(): Promise<Proc>;
  /** A named netns hnn-<id>-<n>, lo up, baseline sysctls. */
  addNetns(): Promise<string>;
  /** Run the CLI in the lab host; never rejects. */
  hostnic(args: string[], opts?: HostnicOptions): Promise<RunResult>;
  /**
   * The same, as a live child (its own process group, so a test can send a
   * terminal-like Ctrl+C with signalGroup()). Output is collected from the
   * start: use waitForOutput() / waitForExit().
   */
  spawnHostnic(args: string[], opts?: HostnicOptions): ChildProcess;
  /** Run a command in a namespace (name or path); never rejects. */
  inNs(ns: string, argv: string[]): Promise<RunResult>;
  /** ping (-6 for IPv6 addresses), retried until it answers or timeoutMs passes. */
  ping(fromNs: string, addr: string, opts?: PingOptions): Promise<boolean>;
  snapshot(ns: string, opts?: SnapshotOptions): Promise<Snapshot>;
  /** Remove everything the lab made (see destroy in the implementation). Idempotent; never throws. */
  destroy(): Promise<void>;
}

/** Send a signal to a spawned child's whole process group, as a terminal's Ctrl+C does. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): void {
  if (child.pid) process.kill(-child.pid, signal);
}

const LAB_SUBNET = {
  gw4: '192.168.1.1',
  gw6: 'fd00:1::1',
  remote4: '198.51.100.1',
  remote6: 'fd00:99::1',
};
/** Fixed, locally administered: br0 would otherwise take the lowest port MAC and change as NICs are added. */
const BRIDGE_MAC = '02:00:00:00:01:01';

/**
 * A new netns copies its IPv4 conf/all and conf/default from the machine's
 * initial namespace (IPv6 starts from kernel defaults): forwarding=1 when the
 * VM runs Docker, arp_ignore=1 if someone ran `doctor --fix` on the VM itself.
 * Every namespace the lab makes starts from the kernel defaults instead, so a
 * test sees the same baseline on every machine.
 */
const BASELINE_SYSCTLS = ['all', 'default'].flatMap((dir) =>
  ['arp_ignore=0', 'arp_announce=0', 'arp_notify=0', 'rp_filter=0', 'forwarding=0'].map((kv) => `net/ipv4/conf/${dir}/${kv}`),
);

/** No IPv6 duplicate address detection on the namespace's links (all, and default for links made or moved in later). */
const NO_DAD = ['all', 'default'].map((dir) => `net/ipv6/conf/${dir}/accept_dad=0`);

async function prepareNs(ns: string, dad = true): Promise<void> {
  await mustInNs(ns, ['sysctl', '-q', '-w', ...BASELINE_SYSCTLS, ...(dad ? [] : NO_DAD)]);
  await mustInNs(ns, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
}

function randomId(): string {
  return Array.from(randomBytes(6), (b) => (b % 36).toString(36)).join('');
}

function ownNetnsLink(): string {
  return readlinkSync('/proc/self/ns/net');
}

async function nsInode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

/** PIDs whose network namespace is one of `inodes`. */
async function pidsIn(inodes: Set<number>): Promise<number[]> {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return pids;
  }
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const pid = Number(e);
        if (pid === process.pid) return;
        try {
          const m = /^net:\[(\d+)\]$/.exec(await readlink(`/proc/${e}/ns/net`));
          if (m && inodes.has(Number(m[1]))) pids.push(pid);
        } catch {
          /* gone, or a kernel thread */
        }
      }),
  );
  return pids;
}

/** Is a hostnic process running anywhere on the machine (outside our control)? */
async function otherHostnicAlive(): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return false;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = (await readFile(`/proc/${e}/cmdline`, 'utf8')).split('\0');
      if (argv.some((a) => /(^|\/)hostnic(\.m?[jt]s)?$/.test(a))) return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

/** The text of every regular file under `dir` (a state directory: small files), concatenated. */
async function readTree(dir: string, depth = 4): Promise<string> {
  let out = '';
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) out += await readTree(p, depth - 1);
    else if (e.isFile()) {
      try {
        if ((await stat(p)).size < 4 << 20) out += `\n${await readFile(p, 'utf8')}\n`;
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** Names (in /run/netns) that namespace `ns` has a netns id for: namespaces its links have touched. */
async function netnsIdNames(ns: string): Promise<string[]> {
  const r = await runInNs(ns, ['ip', '-json', 'netns', 'list-id']);
  if (r.exitCode !== 0 || r.stdout.trim() === '') return [];
  try {
    return (JSON.parse(r.stdout) as { nsid: number; name?: string }[]).flatMap((e) => (e.name ? [e.name] : []));
  } catch {
    return [];
  }
}

/** Labs not destroyed yet: torn down synchronously if the test process exits first. */
const liveLabs = new Set<LabImpl>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.destroySync();
  });
}

class ProcImpl implements Proc {
  readonly nsPath: string;
  exited = false;
  private readonly exit: Promise<void>;

  constructor(
    readonly pid: number,
    child: ChildProcess,
  ) {
    this.nsPath = `/proc/${pid}/ns/net`;
    this.exit = new Promise<void>((resolve) => {
      const done = () => {
        this.exited = true;
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) done();
      child.once('exit', done);
      child.once('error', done);
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      /* already gone */
    }
    const gone = await Promise.race([this.exit.then(() => true), delay(5000).then(() => false)]);
    if (!gone) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await this.exit;
    }
  }
}

class LabImpl implements Lab {
  readonly host: string;
  readonly cloud: string;
  readonly hostNs: string;
  readonly gw4 = LAB_SUBNET.gw4;
  readonly gw6 = LAB_SUBNET.gw6;
  readonly remote4 = LAB_SUBNET.remote4;
  readonly remote6 = LAB_SUBNET.remote6;

  private readonly nics = new Map<string, string>(); // host-side name -> cloud-side peer
  private nicSeq = 0;
  private netnsSeq = 0;
  private readonly containers: ProcImpl[] = [];
  private readonly named: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroying: Promise<void> | undefined;
  private primary: string | undefined;

  constructor(
    readonly id: string,
    readonly stateDir: string,
    readonly cli: string,
    /** netns names that existed before the lab: never deleted by it. */
    private readonly before: ReadonlySet<string>,
    /** IPv6 DAD in the host, containers and namespaces of the lab (LabOptions.dad). */
    private readonly dad = true,
  ) {
    this.host = `hnh-${id}`;
    this.cloud = `hnc-${id}`;
    this.hostNs = nsPath(this.host);
  }

  /** Build host and cloud. Called once by createLab. */
  async setup(): Promise<void> {
    await must(['ip', 'netns', 'add', this.host]);
    this.named.push(this.host);
    await must(['ip', 'netns', 'add', this.cloud]);
    this.named.push(this.cloud);
    const c = this.cloud;
    await prepareNs(this.host, this.dad);
    await prepareNs(c);
    // A plain L2 segment as a cloud VPC offers: no STP, no multicast snooping (floods ND/ARP).
    await mustInNs(c, ['ip', 'link', 'add', 'br0', 'address', BRIDGE_MAC, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    await mustInNs(c, ['ip', 'link', 'set', 'dev', 'br0', 'mtu', '1500', 'up']); // an explicit MTU: ports do not change it
    await mustInNs(c, ['ip', 'addr', 'add', `${this.gw4}/24`, 'dev', 'br0']);
    await mustInNs(c, ['ip', 'addr', 'add', `${this.gw6}/64`, 'dev', 'br0', 'nodad']);
    await mustInNs(c, ['ip', 'addr', 'add', `${this.remote4}/32`, 'dev', 'lo']);
    await mustInNs(c, ['ip', 'addr', 'add', `${this.remote6}/128`, 'dev', 'lo', 'nodad']);
  }

  async addNic(opts: NicOptions = {}): Promise<string> {
    let name = opts.name;
    if (name === undefined) {
      let k = 1;
      while (this.nics.has(`nic${k}`)) k++;
      name = `nic${k}`;
    }
    if (this.nics.has(name)) throw new Error(`lab ${this.id}: NIC ${name} exists already`);
    const seq = ++this.nicSeq;
    const peer = `c${seq}-${name}`.slice(0, 15);
    const mtu = opts.mtu !== undefined ? ['mtu', String(opts.mtu)] : [];
    await mustInNs(this.host, [
      'ip', 'link', 'add', 'name', name, ...mtu, ...(opts.mac ? ['address', opts.mac] : []),
      'type', 'veth', 'peer', 'name', peer, ...mtu, 'netns', this.cloud,
    ]);
    this.nics.set(name, peer);
    await mustInNs(this.cloud, ['ip', 'link', 'set', 'dev', peer, 'master', 'br0', 'up']);
    if (opts.alias !== undefined) await mustInNs(this.host, ['ip', 'link', 'set', 'dev', name, 'alias', opts.alias]);
    for (const a of opts.addrs ?? []) await mustInNs(this.host, ['ip', 'addr', 'add', a, 'dev', name]);
    if (opts.up ?? true) await mustInNs(this.host, ['ip', 'link', 'set', 'dev', name, 'up']);
    return name;
  }

  async addPrimary(): Promise<string> {
    if (this.primary) throw new Error(`lab ${this.id}: addPrimary called twice`);
    const name = await this.addNic({ name: 'uplink0', addrs: ['192.168.1.250/24', 'fd00:1::250/64'], up: true });
    this.primary = name;
    await mustInNs(this.host, ['ip', '-4', 'route', 'add', 'default', 'via', this.gw4, 'dev', name]);
    // Accepted while fd00:1::250 is still tentative: the prefix route exists from the moment the address is added.
    await mustInNs(this.host, ['ip', '-6', 'route', 'add', 'default', 'via', this.gw6, 'dev', name]);
    return name;
  }

  peerOf(nic: string): string {
    const p = this.nics.get(nic);
    if (!p) throw new Error(`lab ${this.id}: no NIC ${nic}`);
    return p;
  }

  async addContainer(): Promise<Proc> {
    const ours = ownNetnsLink();
    const child = spawn('unshare', ['--net', '--', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) {
      const err = await new Promise<unknown>((res) => child.once('error', res));
      throw new Error(`lab ${this.id}: cannot start a container: ${String(err)}`);
    }
    const proc = new ProcImpl(pid, child);
    this.containers.push(proc);
    const deadline = Date.now() + 5000;
    for (;;) {
      let ns: string | undefined;
      try {
        ns = readlinkSync(proc.nsPath);
      } catch {
        ns = undefined;
      }
      if (ns !== undefined && ns !== ours) break;
      if (proc.exited) throw new Error(`lab ${this.id}: container process ${pid} exited at start`);
      if (Date.now() > deadline) throw new Error(`lab ${this.id}: container ${pid} never entered a netns of its own`);
      await delay(10);
    }
    await prepareNs(proc.nsPath, this.dad);
    return proc;
  }

  async addNetns(): Promise<string> {
    const name = `hnn-${this.id}-${++this.netnsSeq}`;
    await must(['ip', 'netns', 'add', name]);
    this.named.push(name);
    await prepareNs(name, this.dad);
    return name;
  }

  private hostnicArgv(args: string[]): string[] {
    return nsArgv(this.hostNs, [process.execPath, this.cli, ...args]);
  }

  private hostnicEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.FORCE_COLOR;
    return { ...env, HOSTNIC_STATE_DIR: this.stateDir, NO_COLOR: '1', CI: 'true', ...extra };
  }

  hostnic(args: string[], opts: HostnicOptions = {}): Promise<RunResult> {
    return run(this.hostnicArgv(args), {
      env: this.hostnicEnv(opts.env),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      timeoutMs: opts.timeoutMs ?? 45_000,
    });
  }

  spawnHostnic(args: string[], opts: HostnicOptions = {}): ChildProcess {
    const [file, ...rest] = this.hostnicArgv(args);
    const child = spawn(file!, rest, {
      env: this.hostnicEnv(opts.env),
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, like a command started from a shell
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    collect(child);
    this.children.add(child);
    child.once('close', () => this.children.delete(child));
    if (opts.timeoutMs) {
      const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
      child.once('close', () => clearTimeout(t));
    }
    return child;
  }

  inNs(ns: string, argv: string[]): Promise<RunResult> {
    return runInNs(ns, argv);
  }

  async ping(fromNs: string, addr: string, opts: PingOptions = {}): Promise<boolean> {
    const family = addr.includes(':') ? '-6' : '-4';
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    for (;;) {
      const started = Date.now();
      const r = await runInNs(fromNs, ['ping', family, '-n', '-c1', '-W1', addr]);
      if (r.exitCode === 0) return true;
      if (Date.now() >= deadline) return false;
      // An immediate failure (no route, source address still tentative): poll, do not spin.
      if (Date.now() - started < 200) await delay(100);
    }
  }

  snapshot(ns: string, opts?: SnapshotOptions): Promise<Snapshot> {
    return takeSnapshot(ns, opts);
  }

  /**
   * Tear down, in this order, every step tolerant of the previous one failing:
   * 1. SIGKILL live hostnic children and containers, and wait for them;
   * 2. find the `hostnic-*` namespaces that appeared during the lab's life and
   *    belong to it (see ownedTempNamespaces);
   * 3. SIGKILL any process still inside one of the lab's namespaces;
   * 4. `ip netns del` them all; 5. remove the state directory.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    const problems: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };

    await step('stop hostnic children', async () => {
      await Promise.all(
        [...this.children].map(async (child) => {
          const done = collect(child).done;
          try {
            child.kill('SIGKILL');
          } catch {
            /* gone */
          }
          await Promise.race([done, delay(5000)]);
        }),
      );
    });
    const containerInodes: number[] = [];
    for (const c of this.containers) {
      const ino = c.exited ? undefined : await nsInode(c.nsPath);
      if (ino !== undefined) containerInodes.push(ino);
    }
    await step('stop containers', () => Promise.all(this.containers.map((c) => c.kill('SIGKILL'))));

    let temps: string[] = [];
    await step('find hostnic temporary namespaces', async () => {
      temps = await this.ownedTempNamespaces();
    });
    const all = [...this.named, ...temps];

    await step('stop processes left in the lab namespaces', async () => {
      const inodes = new Set<number>(containerInodes);
      for (const n of all) {
        const ino = await nsInode(nsPath(n));
        if (ino !== undefined) inodes.add(ino);
      }
      const deadline = Date.now() + 5000;
      for (;;) {
        const pids = await pidsIn(inodes);
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} would not die`);
        await delay(20);
      }
    });

    for (const n of all) {
      await step(`delete netns ${n}`, async () => {
        const r = await run(['ip', 'netns', 'delete', n]);
        if (r.exitCode !== 0 && (await listNetns()).includes(n)) throw new Error(r.stderr.trim());
      });
    }
    await step('remove state dir', () => rm(this.stateDir, { recursive: true, force: true }));
    liveLabs.delete(this);
    if (problems.length > 0) console.warn(`lab ${this.id}: cleanup problems:\n  ${problems.join('\n  ')}`);
  }

  /**
   * `hostnic-*` namespaces that appeared during this lab's life and are its
   * own. Other test runs share the machine, so a new name alone is not proof.
   * A candidate is ours when:
   * - the lab's namespaces have a netns id for it, or it has one for them (the
   *   kernel allocates those when one of our links passes through), or
   * - its name is in a file of the lab's state directory (hostnic journals
   *   its temporary namespace before creating it).
   * It is someone else's when it knows only other named namespaces or holds a
   * link we cannot trace. An empty, untraceable one is ours unless another
   * hostnic is running on the machine right now (it may be about to use it).
   */
  private async ownedTempNamespaces(): Promise<string[]> {
    const candidates = (await listNetns()).filter((n) => n.startsWith('hostnic-') && !this.before.has(n));
    if (candidates.length === 0) return [];
    const mine = new Set(this.named);
    const seen = new Set<string>();
    for (const n of this.named) for (const x of await netnsIdNames(n)) seen.add(x);
    const owned: string[] = [];
    let otherHostnic: boolean | undefined;
    let journaled: Set<string> | undefined; // the words of the lab's state files
    for (const cand of candidates) {
      if (seen.has(cand)) {
        owned.push(cand);
        continue;
      }
      journaled ??= new Set((await readTree(this.stateDir)).split(/[^\w.-]+/));
      if (journaled.has(cand)) {
        owned.push(cand);
        continue;
      }
      const knows = await netnsIdNames(cand);
      if (knows.some((x) => mine.has(x))) {
        owned.push(cand);
        continue;
      }
      if (knows.length > 0) continue;
      const links = await runInNs(cand, ['ip', '-json', 'link', 'show']);
      let nonLo = 1;
      try {
        nonLo = (JSON.parse(links.stdout) as { ifname: string }[]).filter((l) => l.ifname !== 'lo').length;
      } catch {
        /* unreadable: leave it */
      }
      if (nonLo > 0) continue;
      otherHostnic ??= await otherHostnicAlive();
      if (!otherHostnic) owned.push(cand);
    }
    return owned;
  }

  /** Last resort when the test process exits without destroy(): best effort, synchronous. */
  destroySync(): void {
    for (const child of this.children) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const c of this.containers) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const n of this.named) spawnSync('ip', ['netns', 'delete', n], { stdio: 'ignore' });
    try {
      rmSync(this.stateDir, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
  }
}

export interface LabOptions {
  /** The CLI to run (default: <REPO>/bin/hostnic). */
  cli?: string;
  /**
   * false: no IPv6 duplicate address detection in the lab's host, containers
   * and namespaces (accept_dad=0 for all and default). For suites that
   * restore IPv6 addresses over and over and test nothing about DAD: every
   * snapshot after an address came back otherwise waits ~1-2 s for DAD to
   * end (snapshot() waits for tentative addresses to settle).
   */
  dad?: boolean;
}

/** Build a fresh lab: host and cloud namespaces, bridge, gateway, remote. */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const before = new Set(await listNetns());
  let id = randomId();
  while (before.has(`hnh-${id}`) || before.has(`hnc-${id}`)) id = randomId();
  const stateDir = await mkdtemp(join(tmpdir(), `hostnic-lab-${id}-`));
  const lab = new LabImpl(id, stateDir, opts.cli ?? CLI, before, opts.dad ?? true);
  installExitHook();
  liveLabs.add(lab);
  try {
    await lab.setup();
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** Create a lab, run `fn` in it, and always destroy it. */
export async function withLab<T>(fn: (lab: Lab) => Promise<T>, opts: LabOptions = {}): Promise<T> {
  const lab = await createLab(opts);
  try {
    return await fn(lab);
  } finally {
    await lab.destroy();
  }
}
