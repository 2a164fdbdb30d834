/**
 * `dhcp` as an address (issue 15): dnsmasq in the lab's cloud namespace is
 * the cloud's DHCP server (one per test, its own lease and pid files), busybox
 * udhcpc the client hostnic runs in the container. Real state asserted: the
 * address from the range, THE default route via the router, classless
 * routes, MTU, the client process (found in /proc by the lease file in its
 * environment), dnsmasq's lease file, and snapshots before and after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab, type Proc } from '../helpers/lab.js';
import { comparable, giveDefaultRoute } from '../helpers/hostnic.js';
import { removeContainer, runContainer } from '../helpers/docker.js';
import { execa } from 'execa';
import { desiredDir, startWatch, writeDesired } from './watch-helpers.js';

const root = requireRoot();

interface Dnsmasq {
  leases: string;
  /** The lease file's lines: "EXPIRY MAC IP HOSTNAME CLIENTID". */
  read(): string[][];
  stop(): Promise<void>;
}

/** dnsmasq as the cloud's DHCP server on br0 (192.168.1.0/24, the gateway 192.168.1.1), with `options`. */
async function startDnsmasq(lab: Lab, options: string[]): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'hostnic-dnsmasq-'));
  const leases = join(dir, 'leases');
  const child: ChildProcess = spawn('ip', ['netns', 'exec', lab.cloud, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0',
    '--interface=br0', '--bind-interfaces', '--user=root', '--group=root', `--dhcp-leasefile=${leases}`, `--pid-file=${join(dir, 'pid')}`,
    '--dhcp-authoritative', '--no-ping', ...options], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const deadline = Date.now() + 5000;
  while (!existsSync(join(dir, 'pid'))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dnsmasq did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    leases,
    read: () => (existsSync(leases) ? readFileSync(leases, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')) : []),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const RANGE = ['--dhcp-range=192.168.1.100,192.168.1.150,255.255.255.0,2m', '--dhcp-option=option:router,192.168.1.1'];

/** udhcpc processes started with a lease file under `stateDir` (hostnic's clients), by host pid. */
function clients(stateDir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== 'udhcpc') continue;
      if (readFileSync(`/proc/${e}/environ`, 'utf8').includes(`HOSTNIC_DHCP_LEASE=${stateDir}/`)) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/** Processes whose network namespace is the one of inode `ino`. */
function inNamespace(ino: number): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).flatMap((e) => {
    try {
      return readlinkNs(`/proc/${e}/ns/net`) === ino ? [Number(e)] : [];
    } catch {
      return [];
    }
  });
}
const readlinkNs = (p: string): number => Number(/\[(\d+)\]/.exec(readlinkSync(p))![1]);

interface DhcpView { address: string; server?: string; router?: string; expires: string; running: boolean; pids: number[] }
const record = (lab: Lab): { saved: Record<string, { ip: string }> } => {
  const [file] = readdirSync(join(lab.stateDir, 'attachments'));
  return JSON.parse(readFileSync(join(lab.stateDir, 'attachments', file!), 'utf8')) as never;
};
const v4Of = async (lab: Lab, ns: string, dev: string): Promise<string[]> =>
  (await addrsOf(lab, ns, dev)).addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);

interface IpAddr { ifname: string; mtu: number; address?: string; addr_info: { family: string; local: string; prefixlen: number }[] }
async function addrsOf(lab: Lab, ns: string, dev: string): Promise<IpAddr> {
  const r = await lab.inNs(ns, ['ip', '-json', 'addr', 'show', 'dev', dev]);
  return (JSON.parse(r.stdout) as IpAddr[])[0]!;
}
async function routes4(lab: Lab, ns: string): Promise<{ dst: string; gateway?: string; dev: string; scope?: string }[]> {
  return JSON.parse((await lab.inNs(ns, ['ip', '-4', '-json', 'route', 'show', 'table', 'main'])).stdout) as never;
}

describe.skipIf(!root)('dhcp (udhcpc in the container, dnsmasq as the cloud)', () => {
  let lab: Lab;
  let servers: Dnsmasq[];
  beforeEach(async () => { lab = await createLab(); servers = []; });
  afterEach(async () => {
    // A client left by a failed test would keep its container's namespace alive.
    for (const pid of clients(lab.stateDir)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    for (const s of servers) await s.stop();
    await lab.destroy();
  });
  const dnsmasq = async (options: string[]): Promise<Dnsmasq> => {
    const s = await startDnsmasq(lab, options);
    servers.push(s);
    return s;
  };

  it('attach takes a lease (address, THE default route, MTU) and keeps the client; detach releases it and leaves all as before', async () => {
    const server = await dnsmasq([...RANGE, '--dhcp-option=option:mtu,1400']);
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);

    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);

    const eth1 = await addrsOf(lab, ctr.nsPath, 'eth1');
    const v4 = eth1.addr_info.filter((a) => a.family === 'inet');
    expect(v4).toHaveLength(1);
    expect(v4[0]!.prefixlen).toBe(24);
    const n = Number(v4[0]!.local.split('.')[3]);
    expect(v4[0]!.local.startsWith('192.168.1.') && n >= 100 && n <= 150).toBe(true);
    expect(eth1.mtu).toBe(1400);
    const defaults = (await routes4(lab, ctr.nsPath)).filter((x) => x.dst === 'default');
    expect(defaults).toEqual([expect.objectContaining({ gateway: '192.168.1.1', dev: 'eth1' })]);
    expect(await lab.ping(ctr.nsPath, lab.remote4)).toBe(true);
    // The server has the lease; the client runs in the container's namespace.
    expect(server.read().map((l) => l[2])).toEqual([v4[0]!.local]);
    const running = clients(lab.stateDir);
    expect(running).toHaveLength(1);
    expect(readlinkNs(`/proc/${running[0]}/ns/net`)).toBe(readlinkNs(ctr.nsPath));

    // A process in another namespace named udhcpc, with the lease file in its environment, is not taken for the client.
    const [recFile] = readdirSync(join(lab.stateDir, 'attachments'));
    const lease = (JSON.parse(readFileSync(join(lab.stateDir, 'attachments', recFile!), 'utf8')) as { input: { dhcp: { lease: string } } }).input.dhcp.lease;
    const fakeDir = mkdtempSync(join(tmpdir(), 'hostnic-fake-udhcpc-'));
    symlinkSync('/bin/sleep', join(fakeDir, 'udhcpc'));
    const fake = spawn('nsenter', [`--net=/run/netns/${lab.cloud}`, '--', join(fakeDir, 'udhcpc'), '300'], { env: { ...process.env, HOSTNIC_DHCP_LEASE: lease }, stdio: 'ignore' });
    let row: { dhcp?: DhcpView };
    try {
      for (let i = 0; i < 100 && clients(lab.stateDir).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(clients(lab.stateDir)).toContain(fake.pid);
      // status: the lease (address, server, expiry) and its client.
      const st = await lab.hostnic(['status', '--json']);
      row = (JSON.parse(st.stdout) as { attachments: { dhcp?: DhcpView }[] }).attachments[0]!;
      expect(row.dhcp).toMatchObject({ address: `${v4[0]!.local}/24`, server: '192.168.1.1', router: '192.168.1.1', running: true, pids: running });
    } finally {
      fake.kill('SIGKILL');
      rmSync(fakeDir, { recursive: true, force: true });
    }
    expect(Date.parse(row.dhcp!.expires) - Date.now()).toBeGreaterThan(60_000);
    expect((await lab.hostnic(['status'])).stdout).toMatch(new RegExp(`dhcp: ${v4[0]!.local.replaceAll('.', '\\.')}/24 from 192\\.168\\.1\\.1, router 192\\.168\\.1\\.1, expires \\S+; client running \\(pid ${running[0]}\\)`));

    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(server.read()).toEqual([]); // released
    expect(clients(lab.stateDir)).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'dhcp'))).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it("the container's own way out gone since the attach (its eth0 deleted, as docker network disconnect does): detach releases the lease and gives the NIC back, the default route left, said why", async () => {
    const server = await dnsmasq(RANGE);
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const hostBefore = await lab.snapshot(lab.host);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    expect((await lab.inNs(ctr.nsPath, ['ip', 'link', 'del', 'eth0'])).exitCode).toBe(0);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/previous IPv4 default route \(via 172\.31\.0\.1 dev eth0\) cannot be put back: eth0 is gone/);
    expect(server.read()).toEqual([]); // released
    expect(clients(lab.stateDir)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect((await lab.snapshot(ctr.nsPath)).links.map((l) => l.ifname)).toEqual(['lo']);
  });

  it('a /32 lease with classless routes (option 121): the router through an on-link route, the routes as sent', async () => {
    // The router also as a classless on-link /32 first, as GCE sends it: added once, before the default route through it.
    await dnsmasq(['--dhcp-range=192.168.1.100,192.168.1.150,255.255.255.0,2m', '--dhcp-option=option:netmask,255.255.255.255',
      '--dhcp-option=121,192.168.1.1/32,0.0.0.0,0.0.0.0/0,192.168.1.1,198.51.100.0/24,192.168.1.1,192.168.1.0/24,0.0.0.0']);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp', '--name', 'cloud0']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const v4 = (await addrsOf(lab, ctr.nsPath, 'cloud0')).addr_info.filter((a) => a.family === 'inet');
    expect(v4.map((a) => a.prefixlen)).toEqual([32]);
    const rt = await routes4(lab, ctr.nsPath);
    expect(rt).toEqual(expect.arrayContaining([
      expect.objectContaining({ dst: '192.168.1.1', dev: 'cloud0', scope: 'link' }),
      expect.objectContaining({ dst: 'default', gateway: '192.168.1.1', dev: 'cloud0' }),
      expect.objectContaining({ dst: '198.51.100.0/24', gateway: '192.168.1.1', dev: 'cloud0' }),
      expect.objectContaining({ dst: '192.168.1.0/24', dev: 'cloud0', scope: 'link' }),
    ]));
    expect(rt.filter((x) => x.dst === 'default')).toHaveLength(1);
    expect(await lab.ping(ctr.nsPath, lab.remote4)).toBe(true);

    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, nic])).exitCode).toBe(0);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('a classless default route with gateway 0.0.0.0 (option 121): a default route on the link, not dropped; detach puts the old one back', async () => {
    await dnsmasq(['--dhcp-range=192.168.1.100,192.168.1.150,255.255.255.0,2m', '--dhcp-option=121,0.0.0.0/0,0.0.0.0,198.51.100.0/24,192.168.1.1']);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rt = await routes4(lab, ctr.nsPath);
    const defaults = rt.filter((x) => x.dst === 'default');
    expect(defaults).toEqual([expect.objectContaining({ dev: 'eth1', scope: 'link' })]);
    expect(defaults[0]!.gateway).toBeUndefined();
    expect(rt).toEqual(expect.arrayContaining([expect.objectContaining({ dst: '198.51.100.0/24', gateway: '192.168.1.1', dev: 'eth1' })]));
    const st = await lab.hostnic(['status']);
    expect(st.stdout).toContain('default route on the link');
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, nic])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('a DHCP NIC moved back into the host by hand while its container runs: detach stops the client and restores the NIC there', async () => {
    await dnsmasq(RANGE);
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    const hostBefore = await lab.snapshot(lab.host);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    expect((await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', lab.hostNs])).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(clients(lab.stateDir)).toHaveLength(1); // udhcpc outlives its interface
    const st = (await lab.hostnic(['status'])).stdout;
    expect(st).toMatch(/in the host as eth1/);
    expect(st).not.toMatch(/container is gone/); // it runs: the client is not an orphan
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'dhcp'))).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('the state directory lost: detach (from the tag) still releases the lease and stops the client hostnic started', async () => {
    const server = await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    const [hostBefore, ctrBefore] = await Promise.all([lab.snapshot(lab.host), lab.snapshot(ctr.nsPath)]);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    expect(clients(lab.stateDir)).toHaveLength(1);
    for (const e of readdirSync(lab.stateDir)) rmSync(join(lab.stateDir, e), { recursive: true, force: true });
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(server.read()).toEqual([]); // released
    // The NIC home with what the tag carries (it had no host addresses), the container as before.
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('the state directory lost, then apply: the client of the rebuilt record is stopped before the NIC is attached anew, so one client runs', async () => {
    await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ns = await lab.addNetns();
    const dir = desiredDir();
    const file = join(dir, 'attachments.yaml');
    writeDesired(file, [{ container: `netns:${ns}`, nic, addresses: ['dhcp'] }]);
    try {
      expect((await lab.hostnic(['apply', '-f', file])).exitCode).toBe(0);
      const [old] = clients(lab.stateDir);
      expect(old).toBeDefined();
      for (const e of readdirSync(lab.stateDir)) rmSync(join(lab.stateDir, e), { recursive: true, force: true });
      const r = await lab.hostnic(['apply', '-f', file, '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { entries: { action: string }[] }).entries.map((e) => e.action)).toEqual(['repaired']);
      const now = clients(lab.stateDir);
      expect(now).toHaveLength(1);
      expect(now).not.toContain(old);
      expect(await v4Of(lab, `/run/netns/${ns}`, 'eth1')).toHaveLength(1);
      expect((await lab.hostnic(['detach', `netns:${ns}`, nic])).exitCode).toBe(0);
      expect(clients(lab.stateDir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a Docker container: detach while it runs releases the lease (its init never reaps the client); killed while its client runs, no process is left in its namespace', async () => {
    const server = await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const c = await runContainer();
    try {
      const net = readlinkNs(`/proc/${c.pid}/ns/net`);
      const first = await lab.hostnic(['attach', `docker:${c.name}`, nic, 'dhcp']);
      expect(first.exitCode, first.stderr).toBe(0);
      expect(server.read()).toHaveLength(1);
      const d = await lab.hostnic(['detach', `docker:${c.name}`, nic]);
      expect(d.stderr).toBe('');
      expect(d.exitCode).toBe(0);
      expect(server.read()).toEqual([]);
      expect(clients(lab.stateDir)).toEqual([]);
      expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
      const r = await lab.hostnic(['attach', `docker:${c.name}`, nic, 'dhcp']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const running = clients(lab.stateDir);
      expect(running).toHaveLength(1);
      // In the container's pid namespace, not hostnic's.
      expect(readlinkSync(`/proc/${running[0]}/ns/pid`)).toBe(readlinkSync(`/proc/${c.pid}/ns/pid`));
      expect(readlinkSync(`/proc/${running[0]}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
      await execa('docker', ['kill', c.name]);
      const deadline = Date.now() + 10_000;
      while (inNamespace(net).length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(inNamespace(net)).toEqual([]);
      expect(clients(lab.stateDir)).toEqual([]);
      // The container is gone: detach forgets the attachment, and its lease file.
      expect((await lab.hostnic(['detach', `docker:${c.name}`, nic])).exitCode).toBe(0);
      expect(readdirSync(join(lab.stateDir, 'dhcp'))).toEqual([]);
    } finally {
      await removeContainer(c.name);
    }
  });

  it('a lease that changes at renewal (the server now hands out another address) is applied and recorded', async () => {
    const first = await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    const [was] = await v4Of(lab, ctr.nsPath, 'eth1');
    // The cloud moves the subnet's range: the renewal is refused (NAK) and the client takes a new lease.
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    const second = await dnsmasq(['--dhcp-range=192.168.1.200,192.168.1.250,255.255.255.0,2m', '--dhcp-option=option:router,192.168.1.1']);
    const [pid] = clients(lab.stateDir);
    process.kill(pid!, 'SIGUSR1'); // renew now
    const deadline = Date.now() + 15_000;
    let now: string[] = [];
    while (Date.now() < deadline) {
      now = await v4Of(lab, ctr.nsPath, 'eth1');
      if (now.length === 1 && now[0] !== was && existsSync(join(lab.stateDir, 'attachments'))
        && record(lab).saved['ctr.dhcp']?.ip === now[0]!.split('/')[0] && readdirSync(join(lab.stateDir, 'journal')).length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(now).toHaveLength(1);
    expect(Number(now[0]!.split('/')[0]!.split('.')[3])).toBeGreaterThanOrEqual(200);
    expect(record(lab).saved['ctr.dhcp']!.ip).toBe(now[0]!.split('/')[0]);
    expect((await routes4(lab, ctr.nsPath)).filter((x) => x.dst === 'default')).toEqual([expect.objectContaining({ gateway: '192.168.1.1', dev: 'eth1' })]);
    expect(clients(lab.stateDir)).toEqual([pid]); // the same client, renewing
    expect(await lab.ping(ctr.nsPath, lab.remote4)).toBe(true);

    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, nic])).exitCode).toBe(0);
    expect(second.read()).toEqual([]);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('a renewal that cannot be applied (the NIC drifted: its MTU changed by hand) is not applied and status says why; with the MTU put back the next renewal applies and the note goes', async () => {
    const first = await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    const [was] = await v4Of(lab, ctr.nsPath, 'eth1');
    expect((await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1400'])).exitCode).toBe(0);
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    await dnsmasq(['--dhcp-range=192.168.1.200,192.168.1.250,255.255.255.0,2m', '--dhcp-option=option:router,192.168.1.1']);
    const [pid] = clients(lab.stateDir);
    process.kill(pid!, 'SIGUSR1'); // renew now: the server NAKs, the client takes a new lease
    const note = join(lab.stateDir, 'dhcp', `${readdirSync(join(lab.stateDir, 'attachments'))[0]!.replace(/\.json$/, '')}.note`);
    for (let i = 0; i < 150 && !existsSync(note); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(note)).toBe(true);
    expect(await v4Of(lab, ctr.nsPath, 'eth1')).toEqual([was]); // left as it was
    const st = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { dhcp?: DhcpView & { notApplied?: { message: string } } }[] };
    expect(st.attachments[0]!.dhcp!.notApplied!.message).toMatch(/changed, not applied: MTU 1400 \(expected 1500\)/);
    expect((await lab.hostnic(['status'])).stdout).toMatch(/a new lease was not applied \(last tried \S+\): .*MTU 1400/);
    // The MTU put back: the next renewal applies the new lease, and the note goes.
    expect((await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1500'])).exitCode).toBe(0);
    process.kill(pid!, 'SIGUSR1');
    for (let i = 0; i < 150 && existsSync(note); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(note)).toBe(false);
    const [now] = await v4Of(lab, ctr.nsPath, 'eth1');
    expect(Number(now!.split('/')[0]!.split('.')[3])).toBeGreaterThanOrEqual(200);
    expect((await lab.hostnic(['status'])).stdout).not.toMatch(/not applied/);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, nic])).exitCode).toBe(0);
    expect(readdirSync(join(lab.stateDir, 'dhcp'))).toEqual([]);
  });

  it('a real renewal (dnsmasq\'s shortest lease, 2 min, renewed at half): the expiry moves in dnsmasq\'s lease file and in status', async () => {
    const server = await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    const [pid] = clients(lab.stateDir);
    const expires = async (): Promise<number> => Date.parse((JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { dhcp: DhcpView }[] }).attachments[0]!.dhcp.expires);
    const [[before, , ip]] = server.read() as [string[]];
    const statusBefore = await expires();
    const deadline = Date.now() + 90_000;
    while (Number(server.read()[0]?.[0]) === Number(before) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    const [[after, , ipAfter]] = server.read() as [string[]];
    expect(Number(after)).toBeGreaterThan(Number(before!) + 30);
    expect(ipAfter).toBe(ip);
    await new Promise((r) => setTimeout(r, 300)); // the event script writes the lease file after the ACK
    expect(await expires()).toBeGreaterThan(statusBefore + 30_000);
    expect(clients(lab.stateDir)).toEqual([pid]);
    expect(await v4Of(lab, ctr.nsPath, 'eth1')).toEqual([`${ip}/24`]);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, nic])).exitCode).toBe(0);
    expect(server.read()).toEqual([]);
  }, 120_000);

  it('watch restarts a client that died while its container lives, applies a lease that changed at renewal (not the client\'s script), and stops a client that outlives its target', async () => {
    const firstServer = await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer(); // `unshare --net`: it shares hostnic's pid namespace
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp'])).exitCode).toBe(0);
    const [ip] = await v4Of(lab, ctr.nsPath, 'eth1');
    const dir = desiredDir();
    const file = join(dir, 'attachments.yaml');
    writeDesired(file, []);
    const w = startWatch(lab, file);
    try {
      await w.until((l) => l.event === 'started');
      const [first] = clients(lab.stateDir);
      process.kill(first!, 'SIGKILL');
      const [line] = await w.until((l) => l.event === 'dhcp-restarted', 1, 20_000);
      expect(line!.nic).toBe(nic);
      const again = clients(lab.stateDir);
      expect(again).toHaveLength(1);
      expect(again[0]).not.toBe(first);
      expect(await v4Of(lab, ctr.nsPath, 'eth1')).toEqual([ip]); // the same lease, renewed by the new client
      // The cloud moves the range: the new lease is applied by watch, on the host's side (the event
      // script, in the container's pid namespace, leaves it to a running watch).
      await firstServer.stop();
      servers.splice(servers.indexOf(firstServer), 1);
      await dnsmasq(['--dhcp-range=192.168.1.200,192.168.1.250,255.255.255.0,2m', '--dhcp-option=option:router,192.168.1.1']);
      process.kill(again[0]!, 'SIGUSR1');
      const [renewedLine] = await w.until((l) => l.event === 'dhcp-renewed', 1, 20_000);
      expect(renewedLine!.nic).toBe(nic);
      const [moved] = await v4Of(lab, ctr.nsPath, 'eth1');
      expect(Number(moved!.split('/')[0]!.split('.')[3])).toBeGreaterThanOrEqual(200);
      expect(record(lab).saved['ctr.dhcp']!.ip).toBe(moved!.split('/')[0]);
      // The target dies; the client, in hostnic's pid namespace, would keep its namespace (and the NIC) alive.
      const net = readlinkNs(ctr.nsPath);
      await ctr.kill();
      await w.until((l) => l.event === 'dhcp-stopped', 1, 20_000);
      expect(clients(lab.stateDir)).toEqual([]);
      const deadline = Date.now() + 5000;
      while (inNamespace(net).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(inNamespace(net)).toEqual([]);
    } finally {
      await w.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a pid: target that dies: status names the client that keeps its namespace, the next recover stops it', async () => {
    await dnsmasq(RANGE);
    const nic = await lab.addNic();
    const ctr = await lab.addContainer(); // a process of the host's pid namespace: its client cannot die with it
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [client] = clients(lab.stateDir);
    const ino = readlinkNs(ctr.nsPath);
    await ctr.kill('SIGKILL');
    // The client alone keeps the namespace (and the NIC in it) alive.
    expect(inNamespace(ino)).toEqual([client]);
    const st = await lab.hostnic(['status']);
    expect(st.stdout).toContain(`pid ${client}`);
    const rec = await lab.hostnic(['recover']);
    expect(rec.exitCode, rec.stderr).toBe(0);
    expect(rec.stdout).toBe(`stopped the DHCP client of eth1 (pid ${client}): pid:${ctr.pid} is gone\n`);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(inNamespace(ino)).toEqual([]);
    expect((await lab.hostnic(['recover'])).stdout).toBe('nothing to recover\n');
  });

  it('the desired file takes dhcp as an address (and dhcp-timeout, the client run with it): apply attaches with a lease, a second apply changes nothing', async () => {
    // The lease sets the MTU and a route: both are hostnic's own (status: in place; apply: no drift, nothing besides).
    const server = await dnsmasq([...RANGE, '--dhcp-option=option:mtu,1400', '--dhcp-option=121,0.0.0.0/0,192.168.1.1,198.51.100.0/24,192.168.1.254']);
    const nic = await lab.addNic();
    const ns = await lab.addNetns(); // netns: no process, so no pid namespace of its own: detach ends the client
    const dir = desiredDir();
    const file = join(dir, 'attachments.yaml');
    writeDesired(file, [{ container: `netns:${ns}`, nic, addresses: ['dhcp'], 'dhcp-timeout': 27 }]);
    try {
      const r = await lab.hostnic(['apply', '-f', file]);
      expect(r.exitCode, r.stderr).toBe(0);
      const [ip] = await v4Of(lab, ns, 'eth1');
      expect(server.read().map((l) => `${l[2]}/24`)).toEqual([ip]);
      expect(clients(lab.stateDir)).toHaveLength(1);
      // The file's dhcp-timeout is the client's -t (how long it tries for a lease).
      const argv = readFileSync(`/proc/${clients(lab.stateDir)[0]}/cmdline`, 'utf8').split('\0');
      expect(argv[argv.indexOf('-t') + 1]).toBe('27');
      expect((await lab.snapshot(`/run/netns/${ns}`)).links.find((l) => l.ifname === 'eth1')?.mtu).toBe(1400);
      const st = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string; detail: string }[] };
      expect(st.attachments.map((a) => `${a.status}: ${a.detail}`)).toEqual(['in place: as attached']);
      const again = await lab.hostnic(['apply', '-f', file, '--json']);
      expect(again.exitCode).toBe(0);
      expect((JSON.parse(again.stdout) as { entries: { action: string; besides?: string[] }[] }).entries.map((e) => [e.action, e.besides ?? []])).toEqual([['in-place', []]]);
      expect((await lab.hostnic(['detach', `netns:${ns}`, nic])).exitCode).toBe(0);
      expect(clients(lab.stateDir)).toEqual([]);
      expect(server.read()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on macvlan children (issue 16): two containers of one parent each get a lease of their own; detach releases both, the host as before', async () => {
    const server = await dnsmasq(RANGE);
    const parent = await lab.addNic({ addrs: ['192.168.1.250/24'] });
    const ctrs = [await lab.addContainer(), await lab.addContainer()];
    const hostBefore = comparable(await lab.snapshot(lab.host));
    for (const c of ctrs) {
      const r = await lab.hostnic(['attach', `pid:${c.pid}`, parent, '--macvlan', 'dhcp']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
    }
    const got = await Promise.all(ctrs.map(async (c) => ({ v4: await v4Of(lab, c.nsPath, 'eth1'), mac: (await addrsOf(lab, c.nsPath, 'eth1')).address })));
    expect(got.map((g) => g.v4.length)).toEqual([1, 1]);
    expect(got[0]!.v4[0]).not.toBe(got[1]!.v4[0]);
    // The server leased each child's own MAC (not the parent's) the address it has.
    expect(server.read().map((l) => [l[1], `${l[2]}/24`]).sort()).toEqual(got.map((g) => [g.mac, g.v4[0]]).sort());
    for (const c of ctrs) {
      expect((await routes4(lab, c.nsPath)).filter((x) => x.dst === 'default')).toEqual([expect.objectContaining({ gateway: '192.168.1.1', dev: 'eth1' })]);
      expect(await lab.ping(c.nsPath, lab.remote4)).toBe(true);
    }
    expect(clients(lab.stateDir)).toHaveLength(2);
    for (const c of ctrs) {
      const d = await lab.hostnic(['detach', `pid:${c.pid}`]);
      expect(d.stderr).toBe('');
      expect(d.exitCode).toBe(0);
    }
    expect(server.read()).toEqual([]);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  });

  it('no server: exit 1 after --dhcp-timeout, everything rolled back, no client left', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp', '--dhcp-timeout', '2']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/no lease/);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'dhcp'))).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('bad input: dhcp twice, dhcp@GW, dhcp beside an IPv4 gateway: exit 2, one line, nothing changed', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr: Proc = await lab.addContainer();
    const hostBefore = await lab.snapshot(lab.host);
    for (const [words, why] of [
      [['dhcp', 'dhcp'], /"dhcp" is given 2 times/],
      [['dhcp@192.168.1.1'], /invalid address "dhcp@192\.168\.1\.1": write dhcp alone/],
      [['dhcp', '192.168.1.4/24@192.168.1.1'], /two IPv4 default routes/],
      [['192.168.1.4/24', '--dhcp-timeout', '3'], /--dhcp-timeout is given without "dhcp"/],
      [['dhcp', '--dhcp-timeout', '0'], /invalid --dhcp-timeout "0"/],
    ] as const) {
      const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, ...words]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(why);
    }
    expect(clients(lab.stateDir)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    // A dry run says what it would do, and writes nothing: no lease directory, no client.
    const dry = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, 'dhcp', '--dry-run']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/udhcpc/);
    expect(existsSync(join(lab.stateDir, 'dhcp'))).toBe(false);
    expect(clients(lab.stateDir)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });
});
