/**
 * The Docker-overlap warning against a real dockerd: a lab NIC whose subnet
 * overlaps a Docker network is reported; Docker's own bridges are not; no
 * daemon, no check.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/doctor/index.js';
import { dockerNetworks } from '../../src/host/docker.js';
import { defaultHostPaths, type HostPaths } from '../../src/host/paths.js';
import { ensureDocker, uniqueName } from '../helpers/docker.js';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';

const root = requireRoot();

describe.skipIf(!root)('doctor: Docker networks overlapping a NIC (real dockerd)', () => {
  let lab: Lab;
  let etc: string;
  let paths: HostPaths;
  let network: string | undefined;

  beforeEach(async () => {
    await ensureDocker();
    lab = await createLab();
    etc = await mkdtemp(join(tmpdir(), 'hostnic-etc-'));
    paths = { ...defaultHostPaths({ HOSTNIC_CONFIG_ROOT: etc }), stateDir: lab.stateDir };
  });

  afterEach(async () => {
    if (network) await execa('docker', ['network', 'rm', network], { reject: false });
    network = undefined;
    await lab.destroy();
    await rm(etc, { recursive: true, force: true });
  });

  it('warns for the NIC whose subnet overlaps a Docker network, and only for it', async () => {
    const octet = randomInt(100, 250);
    const subnet = `10.${octet}.0.0/24`;
    network = uniqueName('hn-net');
    await execa('docker', ['network', 'create', '--subnet', subnet, network]);
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    await lab.addNic({ name: 'nic2', addrs: [`10.${octet}.0.77/16`] });

    const c = (await runChecks({ netns: lab.hostNs, paths })).find((x) => x.id === 'docker-overlap')!;
    expect(c.verdict).toBe('warn');
    expect(c.nics).toEqual(['nic2']);
    expect(c.title).toContain(`nic2 10.${octet}.0.77/16 overlaps Docker network "${network}" ${subnet}`);
    expect(c.fix!.steps).toEqual([]);
  });

  it("does not report Docker's own bridges in the namespace where they live", async () => {
    const nets = await dockerNetworks(paths.dockerSocket);
    expect(nets).not.toBeNull();
    const bridges = nets!.map((n) => n.bridge).filter(Boolean);
    expect(bridges).toContain('docker0');
    // The machine's own namespace, read-only: docker0 carries the bridge network's subnet.
    const c = (await runChecks({ paths })).find((x) => x.id === 'docker-overlap')!;
    for (const b of bridges) expect(c.nics ?? []).not.toContain(b);
  });

  it('no daemon at the socket: no check at all', async () => {
    await lab.addPrimary();
    const checks = await runChecks({ netns: lab.hostNs, paths: { ...paths, dockerSocket: join(etc, 'no-docker.sock') } });
    expect(checks.find((x) => x.id === 'docker-overlap')).toBeUndefined();
  });
});
