/**
 * `doctor --undo` while a NIC the fix was about is attached to a container:
 * the fix's per-NIC sysctl went into the container with the NIC (and attach
 * saved it as the NIC's own setting), so undoing now would skip it and the
 * detach would bring the fix's value back. It refuses, changes nothing, and
 * works after the detach.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { comparable } from '../helpers/hostnic.js';
import { createLab, mustInNs, requireRoot, type Lab } from '../helpers/lab.js';

const root = requireRoot();

describe.skipIf(!root)('doctor --undo with a fixed NIC attached', () => {
  let lab: Lab;
  let etc: string;
  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    etc = await mkdtemp(join(tmpdir(), 'hostnic-etc-'));
  });
  afterEach(async () => {
    await lab.destroy();
    await rm(etc, { recursive: true, force: true });
  });
  const env = () => ({ HOSTNIC_CONFIG_ROOT: etc });
  const rpFilter = async (nic: string) => (await mustInNs(lab.host, ['sysctl', '-n', `net.ipv4.conf.${nic}.rp_filter`])).trim();

  it('refuses with the detach to run, changes nothing; after the detach it restores the values from before the fix', async () => {
    const uplink = await lab.addPrimary();
    const nic = await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    await mustInNs(lab.host, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=1']);
    const beforeFix = await lab.snapshot(lab.host);
    const fix = await lab.hostnic(['doctor', '--fix'], { env: env() });
    expect(fix.stdout + fix.stderr).toMatch(/Fixed .*rp-filter/);
    expect([await rpFilter(uplink), await rpFilter(nic)]).toEqual(['2', '2']);

    const ctr = await lab.addContainer();
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.21/24'])).exitCode).toBe(0);
    const host = await lab.snapshot(lab.host);
    const ctrAttached = await lab.snapshot(ctr.nsPath);
    const refused = await lab.hostnic(['doctor', '--undo'], { env: env() });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toBe(
      `hostnic: ${nic} is attached to pid:${ctr.pid}: the fix's settings on it went with it, so they cannot be undone now\n`
      + `hint: detach it first (hostnic detach pid:${ctr.pid} ${nic}), then hostnic doctor --undo\n`,
    );
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(host));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrAttached));

    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
    expect(await rpFilter(nic)).toBe('2'); // the fix's value, which detach put back
    const undo = await lab.hostnic(['doctor', '--undo'], { env: env() });
    expect(undo.exitCode, undo.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(beforeFix));
  });
});
