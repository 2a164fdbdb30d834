/**
 * hostnic against the CNI `host-device` plugin (Debian's
 * containernetworking-plugins) on the same NIC, in the same test: after
 * ADD + DEL, hostnic leaves the host as it was; host-device does not, and
 * the test shows what it leaves different.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createLab, inNs, requireRoot, type Lab, type Snapshot } from '../helpers/lab.js';
import { comparable } from '../helpers/hostnic.js';
import { cni, CNI_PLUGINS, staticConf } from '../helpers/cni.js';

const root = requireRoot();
const HOST_DEVICE = `${CNI_PLUGINS}/host-device`;

describe.skipIf(!root || !existsSync(HOST_DEVICE))('hostnic and host-device side by side (real kernel)', () => {
  let lab: Lab;
  // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
  // DAD, and every snapshot after a NIC came up or back would wait for it.
  beforeEach(async () => { lab = await createLab({ dad: false }); });
  afterEach(async () => { await lab.destroy(); });

  /** The NIC's own row and the routes through it, as the snapshot shows them. */
  const nicView = (s: Snapshot, nic: string) => ({
    link: s.links.find((l) => l.ifname === nic),
    routes4: s.routes4.filter((r) => r.dev === nic),
    routes6: s.routes6.filter((r) => r.dev === nic),
  });

  it('the same NIC, ADD + DEL by each: hostnic restores everything; host-device leaves it down, without its addresses, routes, alias and sysctls', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24', 'fd00:1::20/64'], mtu: 1400, alias: 'vpc uplink' });
    await lab.inNs(lab.host, ['ip', 'route', 'add', '203.0.113.0/24', 'via', '192.168.1.1', 'dev', nic]);
    await lab.inNs(lab.host, ['sysctl', '-q', '-w', `net.ipv4.conf.${nic}.arp_ignore=1`]);
    const ns = `/run/netns/${await lab.addNetns()}`;
    const before = await lab.snapshot(lab.host);
    const conf = (type: string) => ({
      ...staticConf('1.0.0', `hn-test-${lab.id}`, nic, { addresses: ['192.168.1.10/24'], gateway: '192.168.1.1', routes: [{ dst: '0.0.0.0/0' }] }),
      type,
    });
    const call = { containerId: `ctr${lab.id}`, netns: ns, ifname: 'net1' };

    // hostnic
    for (const command of ['ADD', 'DEL'] as const) {
      const r = await cni(lab, { command, ...call, config: conf('hostnic') });
      expect([command, r.exitCode]).toEqual([command, 0]);
    }
    const afterHostnic = await lab.snapshot(lab.host);
    expect(comparable(afterHostnic)).toEqual(comparable(before));

    // host-device, as a runtime runs it: the same environment and configuration.
    for (const command of ['ADD', 'DEL'] as const) {
      const env = { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: call.containerId, CNI_NETNS: ns, CNI_IFNAME: 'net1', CNI_PATH: CNI_PLUGINS };
      const r = await inNs(lab.host, [HOST_DEVICE], { env, input: JSON.stringify(conf('host-device')) });
      expect([command, r.exitCode, r.stderr]).toEqual([command, 0, '']);
    }
    const afterHostDevice = await lab.snapshot(lab.host);
    // The NIC is back under its name, but not as it was.
    const was = nicView(before, nic);
    const now = nicView(afterHostDevice, nic);
    expect(now.link).toBeDefined();
    expect(was.link!.flags).toContain('UP');
    expect(now.link!.flags).not.toContain('UP');
    expect(was.link!.addrs.map((a) => a.local)).toEqual(expect.arrayContaining(['192.168.1.20', 'fd00:1::20']));
    expect(now.link!.addrs.filter((a) => a.scope !== 'link')).toEqual([]);
    expect(was.routes4.map((r) => r.dst)).toContain('203.0.113.0/24');
    expect(now.routes4).toEqual([]);
    expect(now.link!.ifalias).not.toBe('vpc uplink');
    expect(was.link!.sysctl['ipv4.arp_ignore']).toBe('1');
    expect(now.link!.sysctl['ipv4.arp_ignore']).toBe('0');
    // The MTU is what it was here: host-device leaves it alone in both directions.
    expect(now.link!.mtu).toBe(1400);
    expect(comparable(afterHostDevice)).not.toEqual(comparable(before));
  });
});
