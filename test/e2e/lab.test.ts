/**
 * Proves the throwaway lab (test/helpers/lab.ts) on the real kernel: the
 * topology works, a NIC moved by hand into a container and back is seen by
 * the snapshots exactly as the kernel leaves it, the snapshot is stable yet
 * catches every change a tool could make, and destroy() leaves nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CLI,
  REPO,
  createLab,
  linkOf,
  listNetns,
  must,
  mustInNs,
  requireRoot,
  signalGroup,
  waitForExit,
  waitForOutput,
  withLab,
  type Lab,
} from '../helpers/lab.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ip = (ns: string, ...args: string[]) => mustInNs(ns, ['ip', ...args]);

describe('requireRoot', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('throws for a non-root user when CI is set, so a root suite is never skipped silently', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    vi.stubEnv('CI', 'true');
    expect(() => requireRoot()).toThrow(/root/);
  });

  it('returns false for a non-root user outside CI, true for root', () => {
    const spy = vi.spyOn(process, 'getuid').mockReturnValue(1000);
    vi.stubEnv('CI', '');
    expect(requireRoot()).toBe(false);
    spy.mockReturnValue(0);
    expect(requireRoot()).toBe(true);
  });

  it('knows the repository root', () => {
    expect(existsSync(join(REPO, 'package.json'))).toBe(true);
    expect(CLI).toBe(join(REPO, 'bin', 'hostnic'));
  });
});

const root = requireRoot();

describe.skipIf(!root)('lab harness (root, real kernel)', () => {
  let lab: Lab;
  beforeEach(async () => {
    lab = await createLab();
  });
  afterEach(async () => {
    await lab?.destroy();
  });

  it('builds host and cloud: gateway and remote answer a primary NIC with default routes', async () => {
    expect(lab.id).toMatch(/^[0-9a-z]{6}$/);
    expect(lab.host).toBe(`hnh-${lab.id}`);
    expect(lab.cloud).toBe(`hnc-${lab.id}`);
    expect(lab.hostNs).toBe(`/run/netns/hnh-${lab.id}`);
    expect(statSync(lab.stateDir).mode & 0o777).toBe(0o700);
    expect(await listNetns()).toEqual(expect.arrayContaining([lab.host, lab.cloud]));

    const uplink = await lab.addPrimary();
    expect(uplink).toBe('uplink0');
    for (const addr of [lab.gw4, lab.gw6, lab.remote4, lab.remote6]) {
      expect(await lab.ping(lab.host, addr), `ping ${addr}`).toBe(true);
    }
    const host = await lab.snapshot(lab.host);
    const up = linkOf(host, 'uplink0')!;
    expect(up.flags).toContain('UP');
    expect(up.addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(
      expect.arrayContaining(['192.168.1.250/24', 'fd00:1::250/64']),
    );
    expect(host.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: lab.gw4, dev: 'uplink0' }));
    expect(host.routes6).toContainEqual(expect.objectContaining({ dst: 'default', gateway: lab.gw6, dev: 'uplink0' }));

    const cloud = await lab.snapshot(lab.cloud);
    const br0 = linkOf(cloud, 'br0')!;
    expect(br0.addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(
      expect.arrayContaining(['192.168.1.1/24', 'fd00:1::1/64']),
    );
    expect(linkOf(cloud, lab.peerOf('uplink0'))).toMatchObject({ master: 'br0', flags: expect.arrayContaining(['UP']) });
  });

  it('addNic honours name, MTU, MAC, alias, addresses and up=false; a container has lo up in its own netns', async () => {
    const nic = await lab.addNic({
      name: 'eth.5x',
      mtu: 1400,
      mac: '02:11:22:33:44:55',
      alias: 'lab nic with spaces',
      addrs: ['192.168.1.30/24', 'fd00:1::30/64'],
      up: false,
    });
    expect(nic).toBe('eth.5x');
    expect(await lab.addNic()).toBe('nic1');
    expect(await lab.addNic()).toBe('nic2');
    const s = await lab.snapshot(lab.host);
    const l = linkOf(s, 'eth.5x')!;
    expect(l).toMatchObject({ mtu: 1400, address: '02:11:22:33:44:55', ifalias: 'lab nic with spaces' });
    expect(l.flags).not.toContain('UP');
    // The dotted name is read through the slash form of the sysctl path.
    expect(l.sysctl['ipv4.arp_ignore']).toMatch(/^\d$/);
    expect(l.sysctl['ipv6.disable_ipv6']).toBe('0');
    // Down: IPv6 DAD cannot run, so `tentative` is stable state and kept.
    expect(l.addrs).toContainEqual(expect.objectContaining({ local: 'fd00:1::30', tentative: true }));

    const ctr = await lab.addContainer();
    expect(ctr.nsPath).toBe(`/proc/${ctr.pid}/ns/net`);
    expect(readlinkSync(ctr.nsPath)).not.toBe(readlinkSync('/proc/self/ns/net'));
    const c = await lab.snapshot(ctr.nsPath);
    expect(c.links.map((x) => x.ifname)).toEqual(['lo']);
    expect(c.links[0]!.flags).toContain('UP');
    // Baseline IPv4 conf, whatever the VM's own namespace has (a new netns copies it from there).
    for (const snap of [c, s]) {
      for (const dir of [snap.conf.all, snap.conf.default]) {
        expect(dir).toMatchObject({ 'ipv4.forwarding': '0', 'ipv4.arp_ignore': '0', 'ipv4.arp_announce': '0', 'ipv4.arp_notify': '0' });
      }
    }

    const named = await lab.addNetns();
    expect(named).toBe(`hnn-${lab.id}-1`);
    expect(await lab.addNetns()).toBe(`hnn-${lab.id}-2`);
    expect(linkOf(await lab.snapshot(named), 'lo')!.flags).toContain('UP');
  });

  it('a NIC moved by hand into a container and back: the snapshots see each step, and match once restored', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24', 'fd00:1::20/64'], alias: 'host nic1', mtu: 1450 });
    await mustInNs(lab.host, ['sysctl', '-q', '-w', `net/ipv4/conf/${nic}/arp_ignore=1`]);
    const ctr = await lab.addContainer();

    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const cloudBefore = await lab.snapshot(lab.cloud);
    const inHost = linkOf(hostBefore, nic)!;
    expect(inHost.sysctl['ipv4.arp_ignore']).toBe('1');
    expect(inHost.addrs.some((a) => a.tentative)).toBe(false); // DAD settled before the snapshot returned
    expect(inHost.addrs.map((a) => a.local)).toContain('fd00:1::20');

    // Move it into the container.
    await ip(lab.host, 'link', 'set', 'dev', nic, 'netns', String(ctr.pid));
    const hostMoved = await lab.snapshot(lab.host);
    expect(hostMoved).not.toEqual(hostBefore);
    expect(linkOf(hostMoved, nic)).toBeUndefined();
    expect(hostMoved.routes4.some((r) => r.dst === '192.168.1.0/24')).toBe(false);

    // Kernel facts: the moved link arrives down, without addresses, with the
    // destination's default sysctls; name, ifindex, MAC, MTU and alias travel.
    const arrived = await lab.snapshot(ctr.nsPath);
    const inCtr = linkOf(arrived, nic)!;
    expect(inCtr).toMatchObject({ ifindex: inHost.ifindex, address: inHost.address, mtu: 1450, ifalias: 'host nic1' });
    expect(inCtr.flags).not.toContain('UP');
    expect(inCtr.addrs).toEqual([]);
    expect(inCtr.sysctl['ipv4.arp_ignore']).toBe(arrived.conf.default['ipv4.arp_ignore']);

    // Configure it in the container and use it.
    await ip(ctr.nsPath, 'addr', 'add', '192.168.1.10/24', 'dev', nic);
    await ip(ctr.nsPath, 'addr', 'add', 'fd00:1::10/64', 'dev', nic);
    await ip(ctr.nsPath, 'link', 'set', 'dev', nic, 'up');
    await ip(ctr.nsPath, 'route', 'add', 'default', 'via', lab.gw4, 'dev', nic);
    await ip(ctr.nsPath, '-6', 'route', 'add', 'default', 'via', lab.gw6, 'dev', nic);
    expect(await lab.ping(ctr.nsPath, lab.gw4)).toBe(true);
    expect(await lab.ping(lab.cloud, '192.168.1.10')).toBe(true);
    expect(await lab.ping(ctr.nsPath, lab.gw6)).toBe(true);
    expect(await lab.ping(lab.cloud, 'fd00:1::10')).toBe(true);
    expect(await lab.ping(ctr.nsPath, lab.remote4)).toBe(true);
    expect(await lab.ping(ctr.nsPath, lab.remote6)).toBe(true);
    const ctrUsing = await lab.snapshot(ctr.nsPath);
    expect(ctrUsing).not.toEqual(ctrBefore);
    expect(ctrUsing.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: lab.gw4, dev: nic }));

    // Back to the host: again down, no addresses, host default sysctls.
    await ip(ctr.nsPath, 'link', 'set', 'dev', nic, 'netns', lab.hostNs);
    const back = await lab.snapshot(lab.host);
    const returned = linkOf(back, nic)!;
    expect(returned).toMatchObject({ ifindex: inHost.ifindex, address: inHost.address, mtu: 1450, ifalias: 'host nic1' });
    expect(returned.flags).not.toContain('UP');
    expect(returned.addrs).toEqual([]);
    expect(returned.sysctl['ipv4.arp_ignore']).toBe(back.conf.default['ipv4.arp_ignore']);
    expect(back).not.toEqual(hostBefore);

    // Restore by hand what the move lost: then every snapshot matches.
    await ip(lab.host, 'addr', 'add', '192.168.1.20/24', 'dev', nic);
    await ip(lab.host, 'addr', 'add', 'fd00:1::20/64', 'dev', nic);
    await mustInNs(lab.host, ['sysctl', '-q', '-w', `net/ipv4/conf/${nic}/arp_ignore=1`]);
    await ip(lab.host, 'link', 'set', 'dev', nic, 'up');
    expect(await lab.snapshot(lab.host)).toEqual(hostBefore);
    expect(await lab.snapshot(ctr.nsPath)).toEqual(ctrBefore);
    expect(await lab.snapshot(lab.cloud)).toEqual(cloudBefore);
    expect(await lab.ping(lab.host, lab.gw6)).toBe(true);
  });

  it('snapshot is stable, yet catches every change a tool could get wrong', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.40/24', 'fd00:1::40/64'] });
    await lab.addPrimary();
    const base = await lab.snapshot(lab.host);
    expect(await lab.snapshot(lab.host)).toEqual(base);
    expect(await lab.snapshot(`/run/netns/${lab.host}`)).toEqual(base);

    const H = lab.host;
    const sysctl = (key: string) => mustInNs(H, ['sysctl', '-q', '-w', key]);
    const cases: { what: string; change: () => Promise<unknown>; undo: () => Promise<unknown> }[] = [
      { what: 'MTU', change: () => ip(H, 'link', 'set', 'dev', nic, 'mtu', '1400'), undo: () => ip(H, 'link', 'set', 'dev', nic, 'mtu', '1500') },
      {
        what: 'MAC',
        change: () => ip(H, 'link', 'set', 'dev', nic, 'address', '02:00:00:00:99:99'),
        undo: () => ip(H, 'link', 'set', 'dev', nic, 'address', String(linkOf(base, nic)!.address)),
      },
      { what: 'ifalias', change: () => ip(H, 'link', 'set', 'dev', nic, 'alias', 'x'), undo: () => ip(H, 'link', 'set', 'dev', nic, 'alias', '') },
      {
        what: 'altname',
        change: () => ip(H, 'link', 'property', 'add', 'dev', nic, 'altname', `alt-${nic}`),
        undo: () => ip(H, 'link', 'property', 'del', 'dev', nic, 'altname', `alt-${nic}`),
      },
      { what: 'name', change: () => ip(H, 'link', 'set', 'dev', nic, 'name', 'renamed0'), undo: () => ip(H, 'link', 'set', 'dev', 'renamed0', 'name', nic) },
      { what: 'promiscuity', change: () => ip(H, 'link', 'set', 'dev', nic, 'promisc', 'on'), undo: () => ip(H, 'link', 'set', 'dev', nic, 'promisc', 'off') },
      {
        what: 'a second IPv4 address',
        change: () => ip(H, 'addr', 'add', '192.168.1.41/24', 'dev', nic),
        undo: () => ip(H, 'addr', 'del', '192.168.1.41/24', 'dev', nic),
      },
      {
        what: 'a finite address lifetime',
        change: () => ip(H, 'addr', 'change', '192.168.1.40/24', 'dev', nic, 'valid_lft', '3000', 'preferred_lft', '3000'),
        undo: () => ip(H, 'addr', 'change', '192.168.1.40/24', 'dev', nic, 'valid_lft', 'forever', 'preferred_lft', 'forever'),
      },
      {
        what: 'an address prefix',
        change: async () => {
          await ip(H, 'addr', 'del', '192.168.1.40/24', 'dev', nic);
          await ip(H, 'addr', 'add', '192.168.1.40/25', 'dev', nic);
        },
        undo: async () => {
          await ip(H, 'addr', 'del', '192.168.1.40/25', 'dev', nic);
          await ip(H, 'addr', 'add', '192.168.1.40/24', 'dev', nic);
        },
      },
      {
        what: 'a route metric',
        change: () => ip(H, 'route', 'add', '10.77.0.0/16', 'via', lab.gw4, 'dev', nic, 'metric', '5'),
        undo: () => ip(H, 'route', 'del', '10.77.0.0/16', 'via', lab.gw4, 'dev', nic, 'metric', '5'),
      },
      {
        what: 'a route in another table',
        change: () => ip(H, '-6', 'route', 'add', 'fd00:77::/64', 'via', lab.gw6, 'dev', nic, 'table', '100'),
        undo: () => ip(H, '-6', 'route', 'del', 'fd00:77::/64', 'via', lab.gw6, 'dev', nic, 'table', '100'),
      },
      {
        what: 'the default route',
        change: () => ip(H, 'route', 'replace', 'default', 'via', lab.gw4, 'dev', nic),
        undo: () => ip(H, 'route', 'replace', 'default', 'via', lab.gw4, 'dev', 'uplink0'),
      },
      {
        what: 'a policy rule',
        change: () => ip(H, 'rule', 'add', 'pref', '100', 'from', '192.168.1.40', 'table', '100'),
        undo: () => ip(H, 'rule', 'del', 'pref', '100', 'from', '192.168.1.40', 'table', '100'),
      },
      { what: 'arp_notify', change: () => sysctl(`net/ipv4/conf/${nic}/arp_notify=1`), undo: () => sysctl(`net/ipv4/conf/${nic}/arp_notify=0`) },
      { what: 'ndisc_notify', change: () => sysctl(`net/ipv6/conf/${nic}/ndisc_notify=1`), undo: () => sysctl(`net/ipv6/conf/${nic}/ndisc_notify=0`) },
      { what: 'rp_filter', change: () => sysctl(`net/ipv4/conf/${nic}/rp_filter=2`), undo: () => sysctl(`net/ipv4/conf/${nic}/rp_filter=${linkOf(base, nic)!.sysctl['ipv4.rp_filter']}`) },
      { what: 'accept_ra', change: () => sysctl(`net/ipv6/conf/${nic}/accept_ra=0`), undo: () => sysctl(`net/ipv6/conf/${nic}/accept_ra=${linkOf(base, nic)!.sysctl['ipv6.accept_ra']}`) },
      {
        what: 'conf/all arp_ignore',
        change: () => sysctl('net/ipv4/conf/all/arp_ignore=1'),
        undo: () => sysctl(`net/ipv4/conf/all/arp_ignore=${base.conf.all['ipv4.arp_ignore']}`),
      },
      {
        // Setting a link down also drops its IPv6 addresses (keep_addr_on_down=0): up alone does not restore it.
        what: 'the up flag',
        change: () => ip(H, 'link', 'set', 'dev', nic, 'down'),
        undo: async () => {
          await ip(H, 'link', 'set', 'dev', nic, 'up');
          await ip(H, 'addr', 'add', 'fd00:1::40/64', 'dev', nic);
        },
      },
    ];
    for (const c of cases) {
      await c.change();
      const changed = await lab.snapshot(H);
      expect(changed, `a snapshot must see a changed ${c.what}`).not.toEqual(base);
      await c.undo();
      expect(await lab.snapshot(H), `undoing the ${c.what} change must restore the snapshot`).toEqual(base);
    }
  });

  it('snapshot waits for IPv6 DAD on running links, but keeps tentative where DAD cannot run', async () => {
    const nic = await lab.addNic({ addrs: ['fd00:1::50/64'], up: true });
    const s = await lab.snapshot(lab.host);
    const l = linkOf(s, nic)!;
    expect(l.addrs.filter((a) => a.tentative)).toEqual([]);
    expect(l.addrs.map((a) => a.local)).toEqual(expect.arrayContaining(['fd00:1::50', expect.stringMatching(/^fe80::/)]));
    expect(s.routes6).toContainEqual(expect.objectContaining({ type: 'local', dst: 'fd00:1::50', table: 'local' }));

    // Peer down: no carrier, DAD never runs, `tentative` is stable and kept, and the snapshot does not wait for it.
    const lonely = await lab.addNic({ up: true });
    await ip(lab.cloud, 'link', 'set', 'dev', lab.peerOf(lonely), 'down');
    await ip(lab.host, 'addr', 'add', 'fd00:1::51/64', 'dev', lonely);
    const started = Date.now();
    const s2 = await lab.snapshot(lab.host);
    expect(Date.now() - started).toBeLessThan(3000);
    const ll = linkOf(s2, lonely)!;
    expect(ll.flags).toEqual(expect.arrayContaining(['NO-CARRIER', 'UP']));
    expect(ll.addrs).toContainEqual(expect.objectContaining({ local: 'fd00:1::51', tentative: true }));
    expect(ll.addrs.every((a) => a.valid_life_time === 'forever')).toBe(true);
  });

  it('ping gives up after its timeout on an unreachable address', async () => {
    await lab.addPrimary();
    const started = Date.now();
    expect(await lab.ping(lab.host, '192.168.1.77', { timeoutMs: 1500 })).toBe(false);
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

/** A stand-in CLI: reports how it was run, then obeys its first argument. */
const FAKE_CLI = `
import { readlinkSync, readFileSync } from 'node:fs';
const [cmd, arg] = process.argv.slice(2);
if (cmd === 'report') {
  let stdin = '';
  try { stdin = readFileSync(0, 'utf8'); } catch {}
  const pick = ['HOSTNIC_STATE_DIR', 'NO_COLOR', 'CI', 'EXTRA', 'FORCE_COLOR'];
  console.log(JSON.stringify({ argv: process.argv.slice(2), netns: readlinkSync('/proc/self/ns/net'),
    env: Object.fromEntries(pick.map((k) => [k, process.env[k] ?? null])), stdin }));
} else if (cmd === 'exit') {
  console.error('exiting with ' + arg);
  process.exit(Number(arg));
} else if (cmd === 'wait') {
  process.on('SIGINT', () => { console.log('got SIGINT'); process.exit(130); });
  console.log('ready');
  setInterval(() => {}, 1000);
}
`;

describe.skipIf(!root)('lab.hostnic (root)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostnic-fakecli-'));
    writeFileSync(join(dir, 'hostnic.mjs'), FAKE_CLI);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the CLI inside the lab host with the lab environment, and never rejects', async () => {
    await withLab(
      async (lab) => {
        const r = await lab.hostnic(['report', 'a b', '--x'], { env: { EXTRA: 'yes' }, input: 'hello' });
        expect(r.exitCode).toBe(0);
        const rep = JSON.parse(r.stdout) as { argv: string[]; netns: string; env: Record<string, string | null>; stdin: string };
        expect(rep.argv).toEqual(['report', 'a b', '--x']);
        expect(rep.netns).toBe(`net:[${statSync(lab.hostNs).ino}]`);
        expect(rep.env).toEqual({ HOSTNIC_STATE_DIR: lab.stateDir, NO_COLOR: '1', CI: 'true', EXTRA: 'yes', FORCE_COLOR: null });
        expect(rep.stdin).toBe('hello');

        const e = await lab.hostnic(['exit', '3']);
        expect(e).toMatchObject({ exitCode: 3, stderr: 'exiting with 3\n' });

        const child = lab.spawnHostnic(['wait']);
        await waitForOutput(child, /ready/);
        signalGroup(child, 'SIGINT');
        expect(await waitForExit(child)).toMatchObject({ exitCode: 130, stdout: 'ready\ngot SIGINT\n' });

        const killed = lab.spawnHostnic(['wait']);
        await waitForOutput(killed, /ready/);
        killed.kill('SIGKILL');
        expect(await waitForExit(killed)).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });

        const hung = await lab.hostnic(['wait'], { timeoutMs: 500 });
        expect(hung).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
      },
      { cli: join(dir, 'hostnic.mjs') },
    );
  });

  it('reports a missing CLI as a failed run', async () => {
    await withLab(
      async (lab) => {
        const r = await lab.hostnic(['status']);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(/Cannot find module/);
      },
      { cli: join(dir, 'no-such-hostnic') },
    );
  });
});

describe.skipIf(!root)('lab.destroy (root)', () => {
  it('leaves no namespace, process or state behind, removes only its own hostnic- namespaces, and is idempotent', async () => {
    const tag = Math.random().toString(36).slice(2, 8);
    const pre = `hostnic-pre${tag}`;
    await must(['ip', 'netns', 'add', pre]); // existed before the lab: never the lab's to delete
    const lab = await createLab();
    const other = await createLab();
    try {
      const nic = await lab.addNic({ addrs: ['192.168.1.60/24'] });
      await lab.addPrimary();
      const ctr = await lab.addContainer();
      const named = await lab.addNetns();
      // A stray process in the lab host (e.g. a hostnic that never returned).
      const stray = spawn('nsenter', [`--net=${lab.hostNs}`, '--', 'sleep', 'infinity'], { stdio: 'ignore', detached: true });
      stray.unref();
      const strayExit = new Promise((res) => stray.once('exit', res));
      // A hostnic temp namespace holding our NIC (a crashed attach) ...
      const tmpOurs = `hostnic-t${lab.id}`;
      await must(['ip', 'netns', 'add', tmpOurs]);
      await ip(lab.host, 'link', 'set', 'dev', nic, 'netns', tmpOurs);
      // ... an empty one its journal names (crashed right after creating it) ...
      const tmpEmpty = `hostnic-e${lab.id}`;
      await must(['ip', 'netns', 'add', tmpEmpty]);
      mkdirSync(join(lab.stateDir, 'journal'), { recursive: true });
      writeFileSync(join(lab.stateDir, 'journal', 'plan.json'), JSON.stringify({ steps: [{ tmpNs: tmpEmpty }] }));
      // ... and one of another lab (another test run on the same machine).
      const tmpForeign = `hostnic-f${other.id}`;
      await must(['ip', 'netns', 'add', tmpForeign]);
      await ip(other.host, 'link', 'set', 'dev', await other.addNic(), 'netns', tmpForeign);

      const stateDir = lab.stateDir;
      writeFileSync(join(stateDir, 'journal.json'), '{}');
      expect(isAlive(ctr.pid)).toBe(true);

      await lab.destroy();
      await lab.destroy(); // idempotent

      const left = await listNetns();
      expect(left.filter((n) => n.includes(lab.id))).toEqual([]);
      expect(left).not.toContain(named);
      expect(left).toContain(pre);
      expect(left).toContain(tmpForeign);
      expect(left).toContain(other.host);
      expect(isAlive(ctr.pid)).toBe(false);
      await strayExit;
      expect(stray.signalCode).toBe('SIGKILL');
      expect(existsSync(stateDir)).toBe(false);

      await other.destroy();
      expect((await listNetns()).filter((n) => n.includes(other.id))).toEqual([]);
    } finally {
      await lab.destroy();
      await other.destroy();
      await must(['ip', 'netns', 'delete', pre]);
    }
    expect(await listNetns()).not.toContain(pre);
  });

  it('withLab destroys the lab even when the test body throws', async () => {
    let id = '';
    let pid = 0;
    await expect(
      withLab(async (lab) => {
        id = lab.id;
        pid = (await lab.addContainer()).pid;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await listNetns()).filter((n) => n.includes(id))).toEqual([]);
    expect(isAlive(pid)).toBe(false);
  });
});
