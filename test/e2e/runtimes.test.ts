/**
 * Container runtime resolution against real runtimes: a Docker engine (started
 * if needed), podman (containers run for real with explicit ulimits; its API
 * served by `podman system service`), and a private containerd driven by ctr.
 */
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, test } from 'vitest';
import { execa } from 'execa';
import { type HostnicError, UsageError } from '../../src/errors.js';
import { execConfig, type TraceEvent } from '../../src/exec.js';
import { netnsId, ownNetns } from '../../src/kernel/ip.js';
import type { Target } from '../../src/runtime/types.js';
import { onPath } from '../../src/runtime/common.js';
import { containerdRuntime } from '../../src/runtime/containerd.js';
import { dockerRuntime } from '../../src/runtime/docker.js';
import { podmanRuntime } from '../../src/runtime/podman.js';
import {
  listRunningContainers,
  resolveRuntimeTarget,
  type RuntimeTargetSpec,
} from '../../src/runtime/index.js';
import {
  createContainer,
  ensureDocker,
  ensurePodman,
  removeContainer,
  removePodmanContainer,
  runContainer,
  runPodmanContainer,
  startContainerd,
  startPodmanService,
  uniqueName,
  type PrivateContainerd,
  type RunningContainer,
} from '../helpers/docker.js';

const root = process.getuid?.() === 0;
// Outside CI a missing runtime skips its suite; in CI it runs and fails, never skipped silently.
const hasPodman = onPath('podman') !== undefined || !!process.env.CI;
const hasContainerd = (onPath('containerd') !== undefined && onPath('ctr') !== undefined) || !!process.env.CI;

if (process.env.CI && !root) {
  test('runtime e2e tests need root', () => {
    throw new Error('test/e2e/runtimes.test.ts must run as root in CI (it drives dockerd, podman and containerd)');
  });
}

/** Environment the resolvers read; each test starts from what the file started with. */
const ENV_KEYS = ['DOCKER_HOST', 'CONTAINER_HOST', 'CONTAINERD_ADDRESS'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
function restoreEnv(): void {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
}

/** Commands hostnic ran through src/exec.ts while `fn` ran. */
async function spawned<T>(fn: () => Promise<T>): Promise<{ value: T; cmds: string[] }> {
  const cmds: string[] = [];
  const before = execConfig.trace;
  execConfig.trace = (e: TraceEvent) => cmds.push(e.cmd.argv.join(' '));
  try {
    return { value: await fn(), cmds };
  } finally {
    execConfig.trace = before;
  }
}

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  expect((e as HostnicError).exitCode).toBe(2);
  expect((e as Error).message).not.toContain('\n');
  return e as UsageError;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timeIt(label: string, n: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const med = median(ms);
  console.log(`[timing] ${label}: median ${med.toFixed(2)} ms of ${n} (min ${Math.min(...ms).toFixed(2)}, max ${Math.max(...ms).toFixed(2)})`);
  return med;
}

function expectTarget(t: Target, c: { id: string; name: string; pid: number }, runtime: 'docker' | 'podman'): void {
  expect(t).toMatchObject({
    kind: runtime,
    display: `${runtime}:${c.name}`,
    pid: c.pid,
    nsPath: `/proc/${c.pid}/ns/net`,
    nsId: netnsId(`/proc/${c.pid}/ns/net`),
    runtime: { name: runtime, id: c.id, containerName: c.name },
  });
  expect(t.runtime?.id).toMatch(/^[0-9a-f]{64}$/);
}

/** Only Docker is asked. */
const dockerOnly = () => [dockerRuntime()];

describe.skipIf(!root)('docker', () => {
  let web: RunningContainer;
  const created = new Set<string>();

  beforeAll(async () => {
    await ensureDocker();
    web = await runContainer();
    created.add(web.id);
  }, 180_000);

  afterEach(restoreEnv);
  afterAll(async () => {
    for (const id of created) await removeContainer(id);
  }, 60_000);

  it('resolves docker:NAME over the socket, starting no process', async () => {
    const { value, cmds } = await spawned(() => resolveRuntimeTarget({ kind: 'docker', ref: web.name }));
    expectTarget(value, web, 'docker');
    expect(cmds).toEqual([]);
  });

  it('resolves a bare name, a full id, a short id and a unique prefix', async () => {
    const rts = dockerOnly();
    const specs: RuntimeTargetSpec[] = [
      { kind: 'name', name: web.name },
      { kind: 'docker', ref: web.id },
      { kind: 'docker', ref: web.id.slice(0, 12) },
      { kind: 'name', name: web.id.slice(0, 12) },
      { kind: 'docker', ref: web.id.slice(0, 8) },
    ];
    for (const spec of specs) {
      const { value, cmds } = await spawned(() => resolveRuntimeTarget(spec, rts));
      expectTarget(value, web, 'docker');
      expect(cmds).toEqual([]);
    }
  });

  it('a bare name with only docker present starts no process either', async () => {
    const { value, cmds } = await spawned(() => resolveRuntimeTarget({ kind: 'name', name: web.name }, dockerOnly()));
    expectTarget(value, web, 'docker');
    expect(cmds).toEqual([]);
  });

  it('times resolution by name', async () => {
    const explicit = await timeIt('docker:NAME (Engine API, unix socket)', 20, () =>
      resolveRuntimeTarget({ kind: 'docker', ref: web.name }),
    );
    await timeIt('bare NAME, docker only present', 20, () => resolveRuntimeTarget({ kind: 'name', name: web.name }, dockerOnly()));
    await timeIt('docker:NAME via the docker CLI (no socket)', 5, () =>
      resolveRuntimeTarget({ kind: 'docker', ref: web.name }, [dockerRuntime({ socketPath: null })]),
    );
    expect(explicit).toBeLessThan(500);
  });

  it('a stopped container is exit 2 "is not running"', async () => {
    const stopped = await createContainer();
    created.add(stopped.id);
    const e1 = await usageError(resolveRuntimeTarget({ kind: 'docker', ref: stopped.name }));
    expect(e1.message).toBe(`container ${stopped.name} is not running`);
    const e2 = await usageError(resolveRuntimeTarget({ kind: 'name', name: stopped.name }, dockerOnly()));
    expect(e2.message).toBe(`container ${stopped.name} is not running (docker:${stopped.name})`);
  });

  it('an unknown container is exit 2', async () => {
    const nope = uniqueName('hn-nope');
    const e1 = await usageError(resolveRuntimeTarget({ kind: 'docker', ref: nope }));
    expect(e1.message).toBe(`no container ${nope} in docker`);
    const e2 = await usageError(resolveRuntimeTarget({ kind: 'name', name: nope }, dockerOnly()));
    expect(e2.message).toBe(`no running container named ${nope} in docker`);
    await usageError(resolveRuntimeTarget({ kind: 'docker', ref: 'bad/ref' }));
  });

  it('an ambiguous id prefix is exit 2', async () => {
    // Create containers until two ids share their first hex digit (at most 17).
    const byFirst = new Map<string, string>();
    let prefix: string | undefined;
    while (!prefix) {
      const c = await createContainer();
      created.add(c.id);
      const first = c.id[0]!;
      if (byFirst.has(first) || web.id[0] === first) prefix = first;
      byFirst.set(first, c.id);
    }
    const e = await usageError(resolveRuntimeTarget({ kind: 'docker', ref: prefix }));
    expect(e.message).toMatch(/^docker: more than one container id starts with/);
    // through the CLI too
    const e2 = await usageError(resolveRuntimeTarget({ kind: 'docker', ref: prefix }, [dockerRuntime({ socketPath: null })]));
    expect(e2.message).toMatch(/^docker: more than one container id starts with/);
  }, 60_000);

  it('honours DOCKER_HOST, and uses the docker CLI only when there is no socket', async () => {
    process.env.DOCKER_HOST = 'unix:///var/run/docker.sock';
    const viaEnv = await spawned(() => resolveRuntimeTarget({ kind: 'docker', ref: web.name }));
    expectTarget(viaEnv.value, web, 'docker');
    expect(viaEnv.cmds).toEqual([]);

    // A socket that is not there: the CLI is tried (and, told the same DOCKER_HOST, fails).
    process.env.DOCKER_HOST = `unix://${join(tmpdir(), uniqueName('no-docker'))}.sock`;
    const failed = await spawned(() => usageError(resolveRuntimeTarget({ kind: 'docker', ref: web.name })));
    expect(failed.cmds).toEqual([`docker container inspect ${web.name}`]);
    expect(failed.value.message).toMatch(/^docker:hn-[0-9a-f]+: docker container inspect hn-[0-9a-f]+: Cannot connect to the Docker daemon/);

    // The CLI fallback itself, against the running daemon.
    delete process.env.DOCKER_HOST;
    const cli = await spawned(() => resolveRuntimeTarget({ kind: 'docker', ref: web.name }, [dockerRuntime({ socketPath: null })]));
    expectTarget(cli.value, web, 'docker');
    expect(cli.cmds).toEqual([`docker container inspect ${web.name}`]);
  });

  it('refuses a container on the host network', async () => {
    const hostnet = await runContainer(uniqueName(), ['--network', 'host']);
    created.add(hostnet.id);
    const e = await usageError(resolveRuntimeTarget({ kind: 'docker', ref: hostnet.name }));
    expect(e.message).toMatch(/host's network namespace/);
  });

  it('a daemon that accepts but never answers times out in about 2 s', async () => {
    const { createServer } = await import('node:net');
    const dir = mkdtempSync(join(tmpdir(), 'hn-hung-'));
    const sock = join(dir, 'docker.sock');
    const server = createServer(() => {}); // accepts, says nothing
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      process.env.DOCKER_HOST = `unix://${sock}`;
      const t = performance.now();
      const e = await usageError(resolveRuntimeTarget({ kind: 'docker', ref: web.name }));
      const took = performance.now() - t;
      expect(e.message).toMatch(/no answer .* within 2 s/);
      expect(took).toBeGreaterThan(1900);
      expect(took).toBeLessThan(3500);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists running containers for completion', async () => {
    const list = await listRunningContainers();
    expect(list).toContainEqual({ runtime: 'docker', name: web.name, id: web.id });
  });
});

describe.skipIf(!root || !hasPodman)('podman', () => {
  let pweb: { id: string; name: string; pid: number };
  let pstopped: { id: string; name: string };
  let service: { socketPath: string; stop(): Promise<void> } | undefined;
  const podmanIds = new Set<string>();
  const dockerIds = new Set<string>();

  beforeAll(async () => {
    await Promise.all([ensureDocker(), ensurePodman()]);
    pweb = await runPodmanContainer();
    podmanIds.add(pweb.id);
    pstopped = await runPodmanContainer(uniqueName(), { start: false });
    podmanIds.add(pstopped.id);
    service = await startPodmanService();
  }, 180_000);

  afterEach(restoreEnv);
  afterAll(async () => {
    await service?.stop();
    for (const id of podmanIds) await removePodmanContainer(id);
    for (const id of dockerIds) await removeContainer(id);
  }, 120_000);

  it('runs a real podman container with its own network namespace', () => {
    expect(pweb.pid).toBeGreaterThan(0);
    expect(netnsId(`/proc/${pweb.pid}/ns/net`)).not.toBe(netnsId(ownNetns()));
  });

  it('resolves podman:NAME and a short id through `podman container inspect` when there is no socket', async () => {
    const cli = podmanRuntime({ socketPath: null });
    const byName = await spawned(() => resolveRuntimeTarget({ kind: 'podman', ref: pweb.name }, [cli]));
    expectTarget(byName.value, pweb, 'podman');
    expect(byName.cmds).toEqual([`podman container inspect --format json ${pweb.name}`]);
    expectTarget(await resolveRuntimeTarget({ kind: 'podman', ref: pweb.id.slice(0, 12) }, [cli]), pweb, 'podman');
    const e = await usageError(resolveRuntimeTarget({ kind: 'podman', ref: pstopped.name }, [cli]));
    expect(e.message).toBe(`container ${pstopped.name} is not running`);
    const nope = uniqueName('hn-nope');
    expect((await usageError(resolveRuntimeTarget({ kind: 'podman', ref: nope }, [cli]))).message).toBe(`no container ${nope} in podman`);
    await timeIt('podman:NAME via the podman CLI', 5, () => resolveRuntimeTarget({ kind: 'podman', ref: pweb.name }, [cli]));
  }, 60_000);

  it('resolves podman:NAME through the API socket (CONTAINER_HOST), starting no process', async () => {
    process.env.CONTAINER_HOST = `unix://${service!.socketPath}`;
    const r = await spawned(() => resolveRuntimeTarget({ kind: 'podman', ref: pweb.name }));
    expectTarget(r.value, pweb, 'podman');
    expect(r.cmds).toEqual([]);
    expectTarget(await resolveRuntimeTarget({ kind: 'podman', ref: pweb.id }), pweb, 'podman');
    const e = await usageError(resolveRuntimeTarget({ kind: 'podman', ref: pstopped.name }));
    expect(e.message).toBe(`container ${pstopped.name} is not running`);
    const nope = uniqueName('hn-nope');
    expect((await usageError(resolveRuntimeTarget({ kind: 'podman', ref: nope }))).message).toBe(`no container ${nope} in podman`);
    await timeIt('podman:NAME via the libpod API socket', 20, () => resolveRuntimeTarget({ kind: 'podman', ref: pweb.name }));
  });

  it('a bare name asks every runtime and, with sockets only, starts no process', async () => {
    process.env.CONTAINER_HOST = `unix://${service!.socketPath}`;
    process.env.CONTAINERD_ADDRESS = '/nonexistent/containerd.sock';
    const r = await spawned(() => resolveRuntimeTarget({ kind: 'name', name: pweb.name }));
    expectTarget(r.value, pweb, 'podman');
    expect(r.cmds).toEqual([]);
    const nope = uniqueName('hn-nope');
    const e = await usageError(resolveRuntimeTarget({ kind: 'name', name: nope }));
    expect(e.message).toBe(`no running container named ${nope} in docker, podman`);
    await timeIt('bare NAME, docker + podman sockets', 20, () => resolveRuntimeTarget({ kind: 'name', name: pweb.name }));
    restoreEnv();
    process.env.CONTAINERD_ADDRESS = '/nonexistent/containerd.sock';
    const cli = await spawned(() => resolveRuntimeTarget({ kind: 'name', name: pweb.name }));
    expect(cli.cmds).toEqual([`podman container inspect --format json ${pweb.name}`]);
    await timeIt('bare NAME, docker socket + podman CLI (no podman socket)', 5, () =>
      resolveRuntimeTarget({ kind: 'name', name: pweb.name }),
    );
  });

  it('a bare name held by docker only starts no podman process, even without a podman socket (podman store index)', async () => {
    restoreEnv();
    process.env.CONTAINERD_ADDRESS = '/nonexistent/containerd.sock';
    const d = await runContainer(uniqueName());
    dockerIds.add(d.id);
    const r = await spawned(() => resolveRuntimeTarget({ kind: 'name', name: d.name }));
    expectTarget(r.value, d, 'docker');
    expect(r.cmds).toEqual([]);
    const nope = uniqueName('hn-nope');
    const miss = await spawned(() => resolveRuntimeTarget({ kind: 'name', name: nope }).catch(() => undefined));
    expect(miss.cmds).toEqual([]);
    await timeIt('bare NAME of a docker container, podman without socket', 20, () => resolveRuntimeTarget({ kind: 'name', name: d.name }));
  }, 60_000);

  it('the same bare name in docker and podman is ambiguous, listing both explicit forms', async () => {
    const name = uniqueName();
    const d = await runContainer(name);
    dockerIds.add(d.id);
    const p = await runPodmanContainer(name);
    podmanIds.add(p.id);
    for (const cli of [false, true]) {
      if (!cli) process.env.CONTAINER_HOST = `unix://${service!.socketPath}`;
      else restoreEnv();
      const e = await usageError(resolveRuntimeTarget({ kind: 'name', name }));
      expect(e.message).toBe(`"${name}" matches several running containers: docker:${name}, podman:${name}; name one of them`);
    }
    // The explicit forms pick each one.
    expectTarget(await resolveRuntimeTarget({ kind: 'docker', ref: name }), d, 'docker');
    expectTarget(await resolveRuntimeTarget({ kind: 'podman', ref: name }), p, 'podman');
    // A stopped namesake does not make it ambiguous: the running one is used.
    await execa('docker', ['stop', '-t', '0', d.id]);
    expectTarget(await resolveRuntimeTarget({ kind: 'name', name }), p, 'podman');
  }, 60_000);

  it('lists podman containers for completion', async () => {
    for (const viaSocket of [true, false]) {
      if (viaSocket) process.env.CONTAINER_HOST = `unix://${service!.socketPath}`;
      else restoreEnv();
      expect(await listRunningContainers()).toContainEqual({ runtime: 'podman', name: pweb.name, id: pweb.id });
    }
  });
});

describe.skipIf(!root || !hasContainerd)('containerd (ctr)', () => {
  let ctd: PrivateContainerd;
  let c1pid: number;
  const c1 = uniqueName('c1');
  const c2 = uniqueName('c2');
  const nerdName = uniqueName('web');

  beforeAll(async () => {
    ctd = await startContainerd();
    ({ pid: c1pid } = await ctd.run(c1, { 'nerdctl/name': nerdName }));
    await ctd.create(c2);
  }, 180_000);

  afterEach(restoreEnv);
  afterAll(async () => {
    await ctd?.stop();
  }, 60_000);

  const expectC1 = (t: Target) =>
    expect(t).toMatchObject({
      kind: 'containerd',
      display: `containerd:${ctd.namespace}/${nerdName}`,
      pid: c1pid,
      nsPath: `/proc/${c1pid}/ns/net`,
      nsId: netnsId(`/proc/${c1pid}/ns/net`),
      runtime: { name: 'containerd', id: c1, containerName: nerdName, namespace: ctd.namespace },
    });

  it('resolves containerd:NS/ID and containerd:NS/NAME (the nerdctl name label) with ctr', async () => {
    process.env.CONTAINERD_ADDRESS = ctd.socketPath;
    expectC1(await resolveRuntimeTarget({ kind: 'containerd', namespace: ctd.namespace, ref: c1 }));
    expectC1(await resolveRuntimeTarget({ kind: 'containerd', namespace: ctd.namespace, ref: nerdName }));
    await timeIt('containerd:NS/ID via ctr', 5, () =>
      resolveRuntimeTarget({ kind: 'containerd', namespace: ctd.namespace, ref: c1 }),
    );
  });

  it('containerd:ID without a namespace looks in "default" only', async () => {
    process.env.CONTAINERD_ADDRESS = ctd.socketPath;
    const e = await usageError(resolveRuntimeTarget({ kind: 'containerd', ref: c1 }));
    expect(e.message).toBe(`no container ${c1} in containerd namespace default`);
  });

  it('a bare word searches every namespace', async () => {
    process.env.CONTAINERD_ADDRESS = ctd.socketPath;
    expectC1(await resolveRuntimeTarget({ kind: 'name', name: c1 }));
    expectC1(await resolveRuntimeTarget({ kind: 'name', name: nerdName }));
  });

  it('a container without a running task is "not running"', async () => {
    process.env.CONTAINERD_ADDRESS = ctd.socketPath;
    const e = await usageError(resolveRuntimeTarget({ kind: 'containerd', namespace: ctd.namespace, ref: c2 }));
    expect(e.message).toBe(`container ${c2} is not running`);
    const e2 = await usageError(resolveRuntimeTarget({ kind: 'name', name: c2 }));
    expect(e2.message).toBe(`container ${c2} is not running (containerd:${ctd.namespace}/${c2})`);
  });

  it('lists containerd tasks for completion as NS/ID', async () => {
    process.env.CONTAINERD_ADDRESS = ctd.socketPath;
    expect(await listRunningContainers()).toContainEqual({ runtime: 'containerd', name: `${ctd.namespace}/${c1}`, id: c1 });
  });

  it('containerd present but not answering is named in the error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hn-deadctd-'));
    try {
      const { createServer } = await import('node:net');
      const sock = join(dir, 'containerd.sock');
      const server = createServer((s) => s.destroy());
      await new Promise<void>((r) => server.listen(sock, r));
      try {
        const e = await usageError(
          resolveRuntimeTarget({ kind: 'name', name: 'hn-nothing' }, [containerdRuntime({ socketPath: sock })]),
        );
        expect(e.message).toMatch(/^cannot look up "hn-nothing": containerd: ctr /);
      } finally {
        server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('no runtime present', () => {
  it('says so', async () => {
    const none = [dockerRuntime({ socketPath: null }), podmanRuntime({ socketPath: null }), containerdRuntime({ socketPath: '/nonexistent' })];
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const e = await usageError(resolveRuntimeTarget({ kind: 'name', name: 'web' }, none));
      expect(e.message).toBe('no container runtime found to look up "web" (looked for docker, podman, containerd)');
      const e2 = await usageError(resolveRuntimeTarget({ kind: 'podman', ref: 'web' }, none));
      expect(e2.message).toBe('podman:web: podman is not present on this host');
      expect(await listRunningContainers(none)).toEqual([]);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

/**
 * nerdctl is not packaged in Debian 12, so its path runs against a stand-in
 * script that answers like `nerdctl container inspect` (docker-style JSON).
 * This checks the argv hostnic builds and how it reads the answer, nothing more.
 */
describe.skipIf(!root)('containerd via nerdctl (stand-in script)', () => {
  it('builds the nerdctl argv and reads its inspect output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hn-nerdctl-'));
    const sock = join(dir, 'containerd.sock');
    const { createServer } = await import('node:net');
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(sock, r));
    // A process in a network namespace of its own, for the stand-in to report.
    const holder = execa('unshare', ['--net', 'sleep', '60']);
    const script = join(dir, 'nerdctl');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `echo "$@" >> ${dir}/calls`,
        'for last; do :; done',
        'if [ "$last" = web ]; then',
        `  printf '[{"Id":"0123abcd","Name":"web","State":{"Running":true,"Pid":%s}}]\\n' "$HN_STUB_PID"; exit 0`,
        'fi',
        'echo "[]"; echo "time=x level=fatal msg=\\"1 errors: no such container: $last\\"" >&2; exit 1',
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    const savedPath = process.env.PATH;
    try {
      process.env.PATH = `${dir}:${savedPath}`;
      process.env.HN_STUB_PID = String(holder.pid);
      const rt = containerdRuntime({ socketPath: sock, tool: 'nerdctl' });
      const nope = await usageError(resolveRuntimeTarget({ kind: 'containerd', ref: 'nope' }, [rt]));
      expect(nope.message).toBe('no container nope in containerd namespace default');
      const t = await resolveRuntimeTarget({ kind: 'containerd', namespace: 'k8s.io', ref: 'web' }, [rt]);
      expect(t).toMatchObject({
        display: 'containerd:k8s.io/web',
        pid: holder.pid,
        nsId: netnsId(`/proc/${holder.pid}/ns/net`),
        runtime: { name: 'containerd', id: '0123abcd', containerName: 'web', namespace: 'k8s.io' },
      });
      const calls = (await execa('cat', [join(dir, 'calls')])).stdout.split('\n');
      expect(calls).toEqual([
        `--address ${sock} --namespace default container inspect nope`,
        `--address ${sock} --namespace k8s.io container inspect web`,
      ]);
    } finally {
      process.env.PATH = savedPath;
      delete process.env.HN_STUB_PID;
      holder.kill('SIGKILL');
      await holder.catch(() => {});
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
