/**
 * A CNI ADD or DEL killed in the middle (SIGKILL at a pause point of the
 * runner, the same journal as the CLI's): `hostnic recover` finishes it, a
 * second recover has nothing to do, and a DEL then leaves the host exactly
 * as it was before the ADD.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable, hostnicTempNamespaces, pausedAt } from '../helpers/hostnic.js';
import { CNI_PLUGINS, cni, staticConf } from '../helpers/cni.js';
import { crash, HOOKS, journalFiles } from './reliability-helpers.js';

const root = requireRoot();

describe.skipIf(!root)('CNI ADD and DEL killed mid-plan, then hostnic recover', () => {
  let lab: Lab;
  // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
  beforeEach(async () => { lab = await createLab({ dad: false }); });
  afterEach(async () => { await lab.destroy(); });

  for (const command of ['ADD', 'DEL'] as const) {
    it(`${command} killed before its third step: recover finishes it; DEL then leaves the host as before the ADD`, async () => {
      const nic = await lab.addNic({ addrs: ['192.168.1.20/24'], mtu: 1400, alias: 'uplink' });
      const ns = `/run/netns/${await lab.addNetns()}`;
      const id = `ctr${randomBytes(6).toString('hex')}`;
      const config = staticConf('1.0.0', `hn-test-${lab.id}`, nic, { addresses: ['192.168.1.10/24'], gateway: '192.168.1.1', routes: [{ dst: '0.0.0.0/0' }] });
      const call = { containerId: id, netns: ns, ifname: 'net1', config };
      const before = await lab.snapshot(lab.host);
      if (command === 'DEL') expect((await cni(lab, { command: 'ADD', ...call })).exitCode).toBe(0);

      const child = lab.spawnHostnic([], {
        env: { ...HOOKS, HOSTNIC_TEST_PAUSE: 'before:2', CNI_COMMAND: command, CNI_PATH: CNI_PLUGINS, CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'net1' },
        input: JSON.stringify(config),
      });
      await pausedAt(lab.stateDir, 'before:2');
      await crash(child);
      expect(journalFiles(lab)).toHaveLength(1);

      const rec = await lab.hostnic(['recover']);
      expect(rec.exitCode, rec.stderr).toBe(0);
      expect(rec.stdout).toMatch(/rolled back|completed/);
      const again = await lab.hostnic(['recover']);
      expect([again.exitCode, again.stdout.trim()]).toEqual([0, 'nothing to recover']);
      expect(journalFiles(lab)).toEqual([]);
      // Rolled back: the host as before the killed command (a killed DEL leaves it attached and recorded).
      const attached = (await lab.snapshot(ns)).links.some((l) => l.ifname === 'net1');
      expect(attached).toBe(command === 'DEL');
      if (command === 'ADD') expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));

      const del = await cni(lab, { command: 'DEL', ...call });
      expect([del.exitCode, del.stdout], del.stderr).toEqual([0, '']);
      expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
      expect((await lab.snapshot(ns)).links.map((l) => l.ifname)).toEqual(['lo']);
      expect(await hostnicTempNamespaces()).toEqual([]);
    });
  }
});
