/**
 * Real container runtimes for tests, with nothing pulled from a registry.
 *
 * - Docker: `ensureDocker()` starts `dockerd` when no daemon answers (default
 *   bridge network kept, so containers get Docker's eth0 and default route;
 *   the host's eth0 and routes are not touched), then builds the image
 *   `hostnic-test/busybox:latest` with `docker import` from a rootfs made of
 *   the static /bin/busybox (Debian's busybox-static). Safe to call from
 *   several test files at once: a lock directory serialises the start, and a
 *   daemon someone else started is simply used.
 * - Podman (`ensurePodman`, `runPodmanContainer`, `startPodmanService`) and a
 *   private containerd (`startContainerd`) for the runtime resolver tests.
 * - A private dockerd (`startPrivateDockerd`) for a test that stops and
 *   starts the daemon itself, which it must not do to the shared one.
 *
 * Helpers run programs with execa directly, not through src/exec.ts, so that
 * tests can watch exec.ts for what hostnic itself runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const TEST_IMAGE = 'hostnic-test/busybox:latest';
const BUSYBOX = '/bin/busybox';
const LOCK = join(tmpdir(), 'hostnic-test-dockerd.lock');
const START_DEADLINE_MS = 60_000;

export function uniqueName(prefix = 'hn'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function dockerSocket(): string {
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

/** GET a path on a unix socket: [status, body], or undefined when nothing answers within 2 s. */
function get(socketPath: string, path: string): Promise<[number, string] | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, headers: { Host: 'localhost' }, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve([res.statusCode ?? 0, body]));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function ping(socketPath: string): Promise<boolean> {
  const r = await get(socketPath, '/_ping');
  return r?.[0] === 200;
}

/** A lock directory: mkdir is atomic. A lock older than the start deadline is stale. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + START_DEADLINE_MS * 2;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > START_DEADLINE_MS * 2) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`ensureDocker: ${LOCK} held too long`, { cause: e });
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function startDetached(argv: string[], logPrefix: string): { child: ChildProcess; log: string } {
  const log = join(tmpdir(), `${logPrefix}-${Date.now()}-${process.pid}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  return { child, log };
}

async function startDockerd(socketPath: string): Promise<void> {
  // Docker's default bridge stays: containers get eth0 and a default route
  // through docker0, as on a real host. iptables NAT is left on too, unless
  // the kernel has no iptables, in which case the second attempt goes without.
  const attempts = [
    ['dockerd', '--host', `unix://${socketPath}`],
    ['dockerd', '--host', `unix://${socketPath}`, '--iptables=false', '--ip6tables=false'],
  ];
  let lastLog = '';
  for (const argv of attempts) {
    const { child, log } = startDetached(argv, 'hostnic-dockerd');
    lastLog = log;
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    const deadline = Date.now() + START_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (await ping(socketPath)) return;
      // Another dockerd (started by someone else) may hold the pid file:
      // keep polling, it is coming up. Otherwise a quick exit is a failure.
      if (exited) {
        const text = readFileSync(log, 'utf8');
        if (/pid file found|process is still running/i.test(text)) {
          await sleep(250);
          continue;
        }
        if (/iptables/i.test(text) && argv === attempts[0]) break;
        throw new Error(`dockerd exited; see ${log}:\n${text.split('\n').slice(-5).join('\n')}`);
      }
      await sleep(250);
    }
    if (!exited) throw new Error(`dockerd did not answer on ${socketPath} within ${START_DEADLINE_MS / 1000} s; see ${log}`);
  }
  throw new Error(`dockerd would not start; see ${lastLog}`);
}

/** A rootfs tarball holding the static busybox and a symlink for each of its applets. */
async function busyboxTarball(): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install busybox-static`);
  if (readFileSync(BUSYBOX).subarray(0, 8192).includes('ld-linux')) {
    throw new Error(`${BUSYBOX} is dynamically linked: apt-get install busybox-static`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hostnic-bbroot-'));
  const root = join(dir, 'root');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await execa(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n').map((s) => s.trim())) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  const tarball = join(dir, 'rootfs.tar');
  await execa('tar', ['-C', root, '-cf', tarball, '.']);
  return tarball;
}

let dockerReady: Promise<{ image: string }> | undefined;

/**
 * A Docker daemon that answers, and the local test image. Starts dockerd if
 * needed (and leaves it running). Memoised per test file.
 */
export function ensureDocker(): Promise<{ image: string }> {
  dockerReady ??= (async () => {
    const socketPath = dockerSocket();
    const hasImage = async () => (await get(socketPath, `/images/${TEST_IMAGE}/json`))?.[0] === 200;
    if (!(await ping(socketPath)) || !(await hasImage())) {
      // Several test files may get here at once: one starts dockerd and
      // imports the image, the others then find both there.
      await withLock(async () => {
        if (!(await ping(socketPath))) await startDockerd(socketPath);
        if (await hasImage()) return;
        await importTestImage('docker');
      });
    }
    return { image: TEST_IMAGE };
  })();
  dockerReady.catch(() => (dockerReady = undefined));
  return dockerReady;
}

export interface RunningContainer {
  id: string;
  name: string;
  pid: number;
}

/** A detached `sleep` container with a unique name (hn-<random>) unless one is given. */
export async function runContainer(name = uniqueName(), args: string[] = []): Promise<RunningContainer> {
  const { image } = await ensureDocker();
  const { stdout } = await execa('docker', ['run', '-d', '--name', name, '--label', 'hostnic-test=1', ...args, image, 'sleep', '1000000']);
  const id = stdout.trim();
  const pid = Number((await execa('docker', ['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim());
  return { id, name, pid };
}

/** A container that exists but was never started. */
export async function createContainer(name = uniqueName()): Promise<{ id: string; name: string }> {
  const { image } = await ensureDocker();
  const { stdout } = await execa('docker', ['create', '--name', name, '--label', 'hostnic-test=1', image, 'sleep', '1000000']);
  return { id: stdout.trim(), name };
}

/** Remove a container, running or not; a missing one is fine. */
export async function removeContainer(ref: string): Promise<void> {
  const r = await execa('docker', ['rm', '-f', ref], { reject: false });
  if (r.exitCode !== 0 && !/no such container/i.test(r.stderr)) throw new Error(`docker rm -f ${ref}: ${r.stderr}`);
}

// ---------------------------------------------------------------- podman

/** Hard limits of this process from /proc/self/limits ('unlimited' -> Infinity). */
function hardLimit(label: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(label));
  const hard = line?.slice(label.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
}

/**
 * podman run flags that make podman work on these VMs. Podman 4.3 as root
 * asks the OCI runtime for RLIMIT_NOFILE and RLIMIT_NPROC of 1048576, and
 * lowers its own RLIMIT_NPROC to 32768 first; raising a hard limit needs
 * CAP_SYS_RESOURCE, which these VMs withhold from root (CapBnd lacks bit 24),
 * so runc fails with "error setting rlimit type 7 (then 6): operation not
 * permitted". `--ulimit host` does not help in 4.3 (the defaults still
 * apply); explicit limits no higher than the current ones do.
 */
export function podmanUlimitArgs(): string[] {
  const nofile = Math.min(hardLimit('Max open files'), 1048576);
  const nproc = Math.min(hardLimit('Max processes'), 32768);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

let podmanReady: Promise<{ image: string }> | undefined;

/** Import the busybox tarball as the test image into docker's or podman's store (env: e.g. another DOCKER_HOST). */
async function importTestImage(cli: 'docker' | 'podman', env: Record<string, string> = {}): Promise<void> {
  const tarball = await busyboxTarball();
  try {
    await execa(cli, ['import', '--change', 'CMD ["/bin/sh"]', tarball, TEST_IMAGE], { env });
  } finally {
    rmSync(join(tarball, '..'), { recursive: true, force: true });
  }
}

/** The test image in podman's store (imported from the busybox tarball). */
export function ensurePodman(): Promise<{ image: string }> {
  podmanReady ??= (async () => {
    const exists = await execa('podman', ['image', 'exists', TEST_IMAGE], { reject: false });
    if (exists.exitCode !== 0) await importTestImage('podman');
    return { image: TEST_IMAGE };
  })();
  podmanReady.catch(() => (podmanReady = undefined));
  return podmanReady;
}

/**
 * A podman `sleep` container; `start: false` creates it without starting it.
 * `--network none`: a network namespace of its own with only lo, which is all
 * the tests need (hostnic moves a NIC in). Podman's default network would
 * create its `cni-podman0` bridge on the host and leave it there.
 */
export async function runPodmanContainer(
  name = uniqueName(),
  opts: { start?: boolean } = {},
): Promise<{ id: string; name: string; pid: number }> {
  const { image } = await ensurePodman();
  const verb = opts.start === false ? 'create' : 'run';
  const detach = opts.start === false ? [] : ['-d'];
  const { stdout } = await execa('podman', [verb, ...detach, '--name', name, '--label', 'hostnic-test=1', '--network', 'none', ...podmanUlimitArgs(), image, 'sleep', '1000000']);
  const id = stdout.trim().split('\n').pop()!;
  const pid = Number((await execa('podman', ['container', 'inspect', '--format', '{{.State.Pid}}', id])).stdout.trim());
  return { id, name, pid };
}

export async function removePodmanContainer(ref: string): Promise<void> {
  // -t 0: sleep as PID 1 ignores SIGTERM, so do not wait 10 s for it.
  const r = await execa('podman', ['rm', '-f', '-t', '0', ref], { reject: false });
  if (r.exitCode !== 0 && !/no such container|no container with/i.test(r.stderr)) throw new Error(`podman rm -f ${ref}: ${r.stderr}`);
}

/** `podman system service` on a private socket, the way systemd's podman.socket would serve it. */
export async function startPodmanService(): Promise<{ socketPath: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hostnic-podman-'));
  const socketPath = join(dir, 'podman.sock');
  const { child, log } = startDetached(['podman', 'system', 'service', '--time=0', `unix://${socketPath}`], 'hostnic-podman-service');
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(log, { force: true });
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await ping(socketPath)) return { socketPath, stop };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  await stop();
  throw new Error(`podman system service did not answer; see ${log}`);
}

// ---------------------------------------------------------------- containerd

export interface PrivateContainerd {
  socketPath: string;
  namespace: string;
  /** Run a `sleep` task (ctr run -d); labels as key=value. */
  run(id: string, labels?: Record<string, string>): Promise<{ pid: number }>;
  /** Create a container without a task. */
  create(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Remove every container, stop containerd, delete its directories. */
  stop(): Promise<void>;
}

/**
 * A containerd of our own (own socket, root and state under a temp dir, CRI
 * plugin off), so the machine's containerd, if any, and Docker's are left
 * alone. The test image is copied in from Docker (`docker save | ctr import`).
 */
export async function startContainerd(): Promise<PrivateContainerd> {
  const { image } = await ensureDocker();
  const dir = mkdtempSync(join(tmpdir(), 'hostnic-containerd-'));
  const socketPath = join(dir, 'containerd.sock');
  const namespace = uniqueName('hn-test');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socketPath}"`,
      '[ttrpc]',
      `  address = "${socketPath}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const { child, log } = startDetached(['containerd', '--config', config], 'hostnic-containerd');
  const ctr = (args: string[], opts: { input?: string; reject?: boolean } = {}) =>
    execa('ctr', ['--address', socketPath, '--namespace', namespace, ...args], { reject: opts.reject ?? true });
  const ids = new Set<string>();

  const remove = async (id: string) => {
    await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id], { reject: false });
    for (let i = 0; i < 50; i++) {
      const r = await ctr(['tasks', 'delete', id], { reject: false });
      if (r.exitCode === 0 || /not found/i.test(r.stderr)) break;
      await sleep(100);
    }
    await ctr(['containers', 'delete', id], { reject: false });
    ids.delete(id);
  };
  const stop = async () => {
    for (const id of [...ids]) await remove(id);
    if (child.exitCode === null && child.pid) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(log, { force: true });
    // What the runc shim makes per namespace outside containerd's root and state, empty once its tasks are deleted.
    rmSync(`/run/containerd/runc/${namespace}`, { recursive: true, force: true });
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(join('/sys/fs/cgroup', hierarchy, namespace));
      } catch {
        // not made in this hierarchy, or reached through another name (cpu -> cpu,cpuacct)
      }
    }
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await ctr(['version'], { reject: false })).exitCode === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not start; see ${log}`);
    }
    await sleep(100);
  }
  try {
    await execa('docker', ['save', image], { encoding: 'buffer' }).pipe('ctr', [
      '--address', socketPath, '--namespace', namespace, 'images', 'import', '-',
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  const ref = `docker.io/${image}`;

  return {
    socketPath,
    namespace,
    async run(id, labels = {}) {
      ids.add(id);
      const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      await ctr(['run', '-d', ...labelArgs, ref, id, 'sleep', '1000000']);
      const tasks = (await ctr(['tasks', 'ls'])).stdout;
      const row = tasks.split('\n').find((l) => l.trim().split(/\s+/)[0] === id);
      return { pid: Number(row?.trim().split(/\s+/)[1]) };
    },
    async create(id) {
      ids.add(id);
      await ctr(['containers', 'create', ref, id, 'sleep', '1000000']);
    },
    remove,
    stop,
  };
}

// ---------------------------------------------------------------- a private dockerd

export interface PrivateDockerd {
  /** Everything it owns is under here: the socket, data-root, exec-root (with its containerd), pidfile, log. */
  dir: string;
  socketPath: string;
  /** DOCKER_HOST=unix://<dir>/docker.sock, for hostnic and the docker CLI. */
  env: { DOCKER_HOST: string };
  /** The docker CLI against this daemon; its stdout, trimmed. */
  docker(args: string[]): Promise<string>;
  /** The pids of dockerd and of the containerd it manages, while they run. */
  pids(): { dockerd?: number; containerd?: number };
  /** SIGTERM dockerd and wait until it and its containerd have exited (it stops its containers first, as a service stop does). */
  stop(): Promise<void>;
  /** Start dockerd again on the same directories. */
  start(): Promise<void>;
  /** Remove its containers, stop it, unmount and delete its directories. Throws when something of it is left behind. */
  destroy(): Promise<void>;
}

const exists = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (exists(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Processes whose command line names `dir` (dockerd, its containerd, their shims): pid and argv. */
function processesOf(dir: string): { pid: number; argv: string }[] {
  const found: { pid: number; argv: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (argv.includes(dir)) found.push({ pid: Number(entry), argv });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * A dockerd of its own: its own socket, --data-root, --exec-root, pidfile
 * and an empty --config-file (so /etc/docker/daemon.json, if any, does not
 * apply), and the containerd it starts itself under its exec-root
 * (`<exec-root>/containerd/containerd.sock`, root under the data-root),
 * since no --containerd is given. No bridge, no iptables rules: containers
 * run with `--network none`. dockerd runs in a network namespace of its own
 * (`unshare --net`), so nothing it does to links touches the host's. The
 * busybox test image is imported into it as into the shared daemon. The
 * shared daemon (`ensureDocker`) is not touched.
 */
export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  // dockerd would use a system containerd instead of its own when one answers there.
  if (existsSync('/run/containerd/containerd.sock')) {
    throw new Error('startPrivateDockerd: a system containerd listens on /run/containerd/containerd.sock; dockerd would share it instead of starting its own');
  }
  const dir = mkdtempSync(join(tmpdir(), 'hndd-'));
  const socketPath = join(dir, 'docker.sock');
  const execRoot = join(dir, 'exec');
  const containerdSock = join(execRoot, 'containerd', 'containerd.sock');
  const containerdPidfile = join(execRoot, 'containerd', 'containerd.pid');
  const log = join(dir, 'dockerd.log');
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  // In a network namespace of its own: dockerd with --bridge=none deletes any
  // docker0 in its namespace at start, and the shared daemon's is in the host's.
  // Containers get namespaces of their own either way; the namespace goes
  // when dockerd and its containerd exit.
  const argv = [
    'unshare', '--net', '--', 'dockerd', '--host', `unix://${socketPath}`, '--data-root', join(dir, 'data'), '--exec-root', execRoot,
    '--pidfile', join(dir, 'docker.pid'), '--config-file', join(dir, 'daemon.json'),
    '--bridge=none', '--iptables=false', '--ip6tables=false',
  ];
  const env = { DOCKER_HOST: `unix://${socketPath}` };
  let child: ChildProcess | undefined;

  const containerdPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(containerdPidfile, 'utf8').trim());
      return pid > 0 && exists(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    const fd = openSync(log, 'a');
    const c = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    c.unref();
    child = c;
    const deadline = Date.now() + START_DEADLINE_MS;
    while (!(await ping(socketPath))) {
      if (!running() || Date.now() > deadline) {
        throw new Error(`private dockerd did not answer on ${socketPath}; see ${log}:\n${readFileSync(log, 'utf8').split('\n').slice(-8).join('\n')}`);
      }
      await sleep(100);
    }
    if (!existsSync(containerdSock) || containerdPid() === undefined) {
      throw new Error(`private dockerd is not using its own containerd (no ${containerdSock}); see ${log}`);
    }
  };

  const stop = async () => {
    const c = child;
    const ctrd = containerdPid();
    if (c && running()) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      // Containers get their stop timeout, then the daemon its own shutdown.
      if ((await Promise.race([exited.then(() => true), sleep(60_000).then(() => false)])) === false) {
        c.kill('SIGKILL');
        await exited;
      }
    }
    if (ctrd !== undefined && !(await gone(ctrd, 20_000))) throw new Error(`the private dockerd's containerd (pid ${ctrd}) outlived it`);
  };

  const docker = async (args: string[]) => (await execa('docker', args, { env })).stdout.trim();

  const destroy = async () => {
    const problems: string[] = [];
    try {
      if (running()) {
        const ids = (await docker(['ps', '-aq'])).split('\n').filter(Boolean);
        if (ids.length) await execa('docker', ['rm', '-f', ...ids], { env, reject: false });
      }
      await stop();
    } catch (e) {
      problems.push(String(e));
    }
    for (const p of processesOf(dir)) {
      problems.push(`left running: ${p.pid} ${p.argv}`);
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const m of mountsUnder(dir)) {
      problems.push(`left mounted: ${m}`);
      await execa('umount', [m], { reject: false });
    }
    const stuck = mountsUnder(dir);
    if (stuck.length) throw new Error(`private dockerd: still mounted, ${dir} kept: ${stuck.join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
    if (problems.length) throw new Error(`private dockerd left things behind (cleaned): ${problems.join('; ')}`);
  };

  try {
    await start();
    await importTestImage('docker', env);
  } catch (e) {
    await destroy().catch(() => undefined);
    throw e;
  }
  return {
    dir,
    socketPath,
    env,
    docker,
    pids: () => ({ dockerd: running() ? child?.pid : undefined, containerd: containerdPid() }),
    stop,
    start: async () => {
      if (running()) throw new Error('private dockerd: already running');
      await start();
    },
    destroy,
  };
}
