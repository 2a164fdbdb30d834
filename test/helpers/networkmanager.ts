/**
 * A real NetworkManager for tests, that can only ever see a lab's devices.
 *
 * How it is confined (each point was found by trying on these machines):
 *
 * - Namespace: it runs inside the lab's host netns (`nsenter --net`), so
 *   netlink shows it the lab's links only; the machine's eth0 does not exist
 *   for it.
 * - Its own D-Bus: by default a private `dbus-daemon` (system-bus policy, no
 *   service activation) on a socket in the temp dir, exported to the test
 *   process as DBUS_SYSTEM_BUS_ADDRESS so that nmcli, whether the test's or
 *   hostnic's (exec.ts passes the environment on), talks to this
 *   NetworkManager. Nothing on the machine's system bus sees it, no
 *   nm-dispatcher is activated in the initial namespace, and several can run
 *   at once. `bus: 'system'` uses the machine's system bus instead (started
 *   with `dbus-daemon --system` when its socket does not answer): one
 *   NetworkManager at a time there, so a lock serialises them. Beware: on
 *   the system bus, dbus-daemon activates nm-dispatcher in the initial
 *   namespace, which runs /etc/NetworkManager/dispatcher.d scripts for the
 *   lab's device events (it exits by itself when idle). Seen here; hence the
 *   private default.
 * - No udev: a device in a non-initial netns never gets a udev event
 *   (uevents of a netns are delivered in that netns, and udevd listens in the
 *   initial one), so NetworkManager would wait forever for udev to
 *   "initialize" it and keep it unmanaged. NetworkManager skips udev when
 *   /sys is read-only, as in a container: it runs in a private mount
 *   namespace (`unshare --mount`) with a fresh, read-only sysfs of the lab
 *   netns. systemd-udevd is therefore not needed.
 * - Files: --config, --config-dir, --system-config-dir, --intern-config and
 *   --state-file point into the temp dir, `[keyfile] path=` holds its
 *   profiles there, and the two directories it hard-codes
 *   (/run/NetworkManager: runtime device state, including `nmcli device set
 *   managed`; /var/lib/NetworkManager: timestamps, leases) are bind-mounted
 *   from the temp dir in its mount namespace. `dns=none`,
 *   `rc-manager=unmanaged` and `hostname-mode=none` keep it off
 *   /etc/resolv.conf and the hostname.
 * - Devices: `[device-hostnic-test-confine] match-device=except:... managed=0`
 *   makes every device but the lab's unmanaged. (Not `[keyfile]
 *   unmanaged-devices=except:...`: a negative match beats every positive
 *   one, so that list would shadow the `unmanaged-devices+=` line hostnic's
 *   fix adds for the lab NIC.)
 * - To make it manage a NIC actively ("connected", not "disconnected"), each
 *   device gets a keyfile profile (`autoconnect=true`; a static address or
 *   none); `no-auto-default=*` stops it inventing "Wired connection 1".
 *   The NIC needs carrier (its peer up), else the state is "unavailable".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, nsPath, run, type RunResult } from './run.js';

export interface NmProfile {
  /** ipv4.method=manual with this 'ip/prefix'; absent: IPv4 and IPv6 disabled (activates at once). */
  address?: string;
}

export interface NmOptions {
  /** The namespace NetworkManager runs in: a name in /run/netns or a path. */
  netns: string;
  /** The interfaces it may manage; every other device is unmanaged by its config. */
  devices: string[];
  /** A profile per device (default: one without addresses for each); false: no profile (it stays "disconnected"). */
  profiles?: Record<string, NmProfile | false>;
  /** 'private' (default): a D-Bus of its own; 'system': the machine's system bus. */
  bus?: 'private' | 'system';
  /** How long to wait for it to answer (default 20 s). */
  timeoutMs?: number;
}

export interface NmDeviceState {
  device: string;
  state: string;
  connection: string;
}

export interface NmHandle {
  pid: number;
  /** The temp dir holding everything it writes. */
  dir: string;
  confFile: string;
  /** conf.d: where hostnic's fix writes its file in tests. */
  confDir: string;
  systemConfDir: string;
  connectionsDir: string;
  netns: string;
  /** Environment for child processes that must reach it (DBUS_SYSTEM_BUS_ADDRESS for the private bus). */
  env: Record<string, string>;
  /** Its log (stderr) so far. */
  log(): string;
  /** Run nmcli against it; never rejects. */
  nmcli(args: string[]): Promise<RunResult>;
  devices(): Promise<NmDeviceState[]>;
  state(device: string): Promise<string | undefined>;
  /** Poll until the device's state satisfies `ok`; returns it (throws with the log tail on timeout). */
  waitFor(device: string, ok: (state: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Stop and start again with fresh runtime state (as after a reboot): same configuration and profiles. */
  restart(): Promise<void>;
  /** Kill it (and its private bus), remove every file it wrote. Idempotent. */
  stop(): Promise<void>;
}

const SYSTEM_SOCKET = '/run/dbus/system_bus_socket';
const SYSTEM_LOCK = '/run/hostnic-test-networkmanager.lock';
const HARDCODED_DIRS = ['/run/NetworkManager', '/var/lib/NetworkManager'];

/** Does a unix socket accept a connection? */
function answers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The machine's system bus, started when its socket does not answer. */
export async function ensureSystemDbus(): Promise<void> {
  if (await answers(SYSTEM_SOCKET)) return;
  // A pid file left by a dead daemon makes dbus-daemon refuse to start.
  try {
    const pid = Number(readFileSync('/run/dbus/pid', 'utf8').trim());
    if (!pid || !pidAlive(pid)) rmSync('/run/dbus/pid', { force: true });
  } catch {
    /* none */
  }
  mkdirSync('/run/dbus', { recursive: true });
  const r = await run(['dbus-daemon', '--system', '--fork']);
  if (r.exitCode !== 0) throw new Error(`dbus-daemon --system: ${r.stderr.trim()}`);
  await waitUntil('the system D-Bus socket', () => answers(SYSTEM_SOCKET), 10_000);
}

/** Take the machine-wide lock for a NetworkManager on the system bus (stale locks of dead processes are broken). */
async function lockSystem(timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(SYSTEM_LOCK, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(SYSTEM_LOCK, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(readFileSync(SYSTEM_LOCK, 'utf8').trim());
      } catch {
        /* vanished: retry */
      }
      if (holder && !pidAlive(holder)) rmSync(SYSTEM_LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`another test holds ${SYSTEM_LOCK} (pid ${holder})`, { cause: e });
      else await delay(200);
    }
  }
}

const BUS_CONF = (socket: string) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
`;

function nmConf(dir: string, devices: string[]): string {
  const except = devices.map((d) => `except:interface-name:${d}`).join(',');
  return [
    '# hostnic test NetworkManager: confined to the lab devices, off /etc/resolv.conf and the hostname.',
    '[main]',
    'plugins=keyfile',
    'dns=none',
    'rc-manager=unmanaged',
    'systemd-resolved=false',
    'hostname-mode=none',
    'auth-polkit=false',
    'no-auto-default=*',
    '',
    '[keyfile]',
    `path=${join(dir, 'system-connections')}`,
    '',
    '[connectivity]',
    'enabled=false',
    '',
    '[logging]',
    'level=INFO',
    '',
    '[device-hostnic-test-confine]',
    `match-device=${except}`,
    'managed=0',
    '',
  ].join('\n');
}

function profile(device: string, p: NmProfile): string {
  const v4 = p.address ? ['method=manual', `address1=${p.address}`] : ['method=disabled'];
  return [
    '[connection]',
    `id=hostnic-test-${device}`,
    'type=ethernet',
    `interface-name=${device}`,
    'autoconnect=true',
    '',
    '[ipv4]',
    ...v4,
    '',
    '[ipv6]',
    'method=disabled',
    '',
  ].join('\n');
}

/** Parse `nmcli -t -f DEVICE,STATE,CONNECTION device status` ('\:' escapes a colon). */
function parseStatus(text: string): NmDeviceState[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const f = l.split(/(?<!\\):/).map((x) => x.replace(/\\(.)/g, '$1'));
      return { device: f[0] ?? '', state: f[1] ?? '', connection: f[2] ?? '' };
    });
}

// The script NetworkManager starts under: private mount namespace, read-only
// sysfs of the lab netns, its hard-coded directories from the temp dir.
const WRAPPER = [
  'set -e',
  'mount -t sysfs -o ro sysfs /sys',
  'mount --bind "$HN_NM_RUN" /run/NetworkManager',
  'mount --bind "$HN_NM_LIB" /var/lib/NetworkManager',
  'exec "$@"',
].join('\n');

const live = new Set<NmImpl>();
let exitHook = false;

class NmImpl implements NmHandle {
  pid = 0;
  readonly confFile: string;
  readonly confDir: string;
  readonly systemConfDir: string;
  readonly connectionsDir: string;
  readonly netns: string;
  readonly env: Record<string, string> = {};
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logText = '';
  private bus: ChildProcess | undefined;
  private release: (() => void) | undefined;
  private madeDirs: string[] = [];
  private savedEnv: string | undefined;
  private stopped = false;

  constructor(
    readonly dir: string,
    private readonly opts: NmOptions,
  ) {
    this.confFile = join(dir, 'NetworkManager.conf');
    this.confDir = join(dir, 'conf.d');
    this.systemConfDir = join(dir, 'system-conf.d');
    this.connectionsDir = join(dir, 'system-connections');
    this.netns = nsPath(opts.netns);
  }

  log(): string {
    return this.logText;
  }

  private childEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.env, LC_ALL: 'C' };
  }

  nmcli(args: string[]): Promise<RunResult> {
    return run(['nmcli', ...args], { env: this.childEnv(), timeoutMs: 15_000 });
  }

  async devices(): Promise<NmDeviceState[]> {
    const r = await this.nmcli(['-t', '-f', 'DEVICE,STATE,CONNECTION', 'device', 'status']);
    if (r.exitCode !== 0) throw new Error(`nmcli device status: ${r.stderr.trim()}`);
    return parseStatus(r.stdout);
  }

  async state(device: string): Promise<string | undefined> {
    return (await this.devices()).find((d) => d.device === device)?.state;
  }

  async waitFor(device: string, ok: (state: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last: string | undefined;
    for (;;) {
      try {
        last = await this.state(device);
        if (last !== undefined && ok(last)) return last;
      } catch (e) {
        last = `(${(e as Error).message})`;
      }
      if (Date.now() > deadline) {
        throw new Error(`NetworkManager: ${device} is still "${last}" after ${timeoutMs} ms\n--- log tail ---\n${this.logText.split('\n').slice(-30).join('\n')}`);
      }
      await delay(150);
    }
  }

  async setup(): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 20_000;
    for (const d of [this.confDir, this.systemConfDir, this.connectionsDir, join(this.dir, 'run'), join(this.dir, 'lib')]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    writeFileSync(this.confFile, nmConf(this.dir, this.opts.devices));
    for (const dev of this.opts.devices) {
      const p = this.opts.profiles?.[dev] ?? {};
      if (p === false) continue;
      writeFileSync(join(this.connectionsDir, `hostnic-test-${dev}.nmconnection`), profile(dev, p), { mode: 0o600 });
    }
    for (const d of HARDCODED_DIRS) {
      if (!existsSync(d)) {
        mkdirSync(d, { recursive: true });
        this.madeDirs.push(d);
      }
    }

    if ((this.opts.bus ?? 'private') === 'private') {
      const socket = join(this.dir, 'bus');
      const conf = join(this.dir, 'bus.conf');
      writeFileSync(conf, BUS_CONF(socket));
      this.bus = spawn('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--nopidfile'], { stdio: 'ignore' });
      await waitUntil('the private D-Bus', () => answers(socket), 10_000);
      this.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${socket}`;
      // hostnic's own nmcli calls (src/exec.ts) inherit the test process's environment.
      this.savedEnv = process.env.DBUS_SYSTEM_BUS_ADDRESS;
      process.env.DBUS_SYSTEM_BUS_ADDRESS = this.env.DBUS_SYSTEM_BUS_ADDRESS;
    } else {
      this.release = await lockSystem(180_000);
      await ensureSystemDbus();
      if ((await this.nmcli(['-t', 'general', 'status'])).exitCode === 0) {
        throw new Error('a NetworkManager already answers on the system bus: refusing to start a second one');
      }
    }
    await this.start(timeoutMs);
  }

  private async start(timeoutMs: number): Promise<void> {
    const args = [
      `--net=${this.netns}`,
      'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', WRAPPER, 'sh',
      'NetworkManager', '--debug', '--log-level=INFO',
      `--config=${this.confFile}`,
      `--config-dir=${this.confDir}`,
      `--system-config-dir=${this.systemConfDir}`,
      `--intern-config=${join(this.dir, 'intern.conf')}`,
      `--state-file=${join(this.dir, 'NetworkManager.state')}`,
    ];
    const child = spawn('nsenter', args, {
      env: { ...this.childEnv(), HN_NM_RUN: join(this.dir, 'run'), HN_NM_LIB: join(this.dir, 'lib') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.pid = child.pid ?? 0;
    let gone = false;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        gone = true;
        resolve();
      });
      child.once('error', (e) => {
        this.logText += `\n(spawn error: ${String(e)})`;
        gone = true;
        resolve();
      });
    });
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => (this.logText += d));
    child.stderr?.on('data', (d: string) => (this.logText += d));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone) throw new Error(`NetworkManager exited at start:\n${this.logText.split('\n').slice(-30).join('\n')}`);
      if ((await this.nmcli(['-t', 'general', 'status'])).exitCode === 0) {
        const names = new Set((await this.devices()).map((d) => d.device));
        if (this.opts.devices.every((d) => names.has(d))) return;
      }
      if (Date.now() > deadline) throw new Error(`NetworkManager did not answer in ${timeoutMs} ms:\n${this.logText.split('\n').slice(-30).join('\n')}`);
      await delay(150);
    }
  }

  private async killNm(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), delay(10_000).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  async restart(): Promise<void> {
    await this.killNm();
    for (const d of ['run', 'lib']) {
      rmSync(join(this.dir, d), { recursive: true, force: true });
      mkdirSync(join(this.dir, d), { mode: 0o700 });
    }
    await this.start(this.opts.timeoutMs ?? 20_000);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    try {
      await this.killNm();
    } finally {
      this.bus?.kill('SIGTERM');
      if (this.env.DBUS_SYSTEM_BUS_ADDRESS) {
        if (this.savedEnv === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
        else process.env.DBUS_SYSTEM_BUS_ADDRESS = this.savedEnv;
      }
      this.cleanupFiles();
      this.release?.();
    }
  }

  /** Synchronous last resort (process exit): kill, remove files. */
  stopSync(): void {
    for (const c of [this.child, this.bus]) {
      try {
        c?.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.cleanupFiles();
    this.release?.();
  }

  private cleanupFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
    for (const d of this.madeDirs.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty or gone: not ours any more */
      }
    }
    this.madeDirs = [];
  }
}

/**
 * Start a NetworkManager confined to `opts.devices` in `opts.netns` (see the
 * top of this file). Call `stop()` in afterEach.
 */
export async function startNetworkManager(opts: NmOptions): Promise<NmHandle> {
  if (opts.devices.length === 0) throw new Error('startNetworkManager: no devices');
  const nm = new NmImpl(await mkdtemp(join(tmpdir(), 'hostnic-nm-')), opts);
  live.add(nm);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const n of live) n.stopSync();
    });
  }
  try {
    await nm.setup();
  } catch (e) {
    await nm.stop();
    throw e;
  }
  return nm;
}
