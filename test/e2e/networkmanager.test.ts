/**
 * A real NetworkManager, confined to a lab's host namespace: it manages the
 * lab NIC, hostnic's inspection and doctor check see that, and the fix's
 * steps (run here by hand, command by command, as the runner would) make it
 * leave the NIC alone, now and after a restart; their undo gives it back.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run as runCmd } from '../../src/exec.js';
import { runChecks, type Check } from '../../src/doctor/index.js';
import { listNics } from '../../src/host/inventory.js';
import { detectManagers } from '../../src/host/managers.js';
import { defaultHostPaths, type HostPaths } from '../../src/host/paths.js';
import { fileWrite } from '../../src/steps/file.js';
import { nmManaged, nmReload } from '../../src/steps/nm.js';
import { sysctlSet } from '../../src/steps/sysctl.js';
import type { StepKind, StepSpec } from '../../src/steps/types.js';
import { createLab, must, requireRoot, type Lab } from '../helpers/lab.js';
import { startNetworkManager, type NmHandle } from '../helpers/networkmanager.js';

const root = requireRoot();

const KINDS: Record<string, StepKind> = {
  'sysctl.set': sysctlSet,
  'file.write': fileWrite,
  'nm.managed': nmManaged,
  'nm.reload': nmReload,
};

/** Capture and apply each step in order, as the runner does; returns the steps with what they saved. */
async function applySteps(steps: StepSpec[]): Promise<StepSpec[]> {
  const done: StepSpec[] = [];
  for (const s of steps) {
    const kind = KINDS[s.kind];
    if (!kind) throw new Error(`no kind ${s.kind}`);
    const saved = kind.capture ? await kind.capture(s.params) : undefined;
    for (const cmd of kind.apply(s.params, saved)) await runCmd(cmd);
    done.push({ ...s, saved });
  }
  return done;
}

/** Undo applied steps, newest first. */
async function undoSteps(done: StepSpec[]): Promise<void> {
  for (const s of [...done].reverse()) {
    for (const cmd of KINDS[s.kind]!.undo(s.params, s.saved)) await runCmd(cmd);
  }
}

const managed = (s: string) => s === 'connected';
const unmanaged = (s: string) => s === 'unmanaged';

describe.skipIf(!root)('a real NetworkManager, confined to the lab', () => {
  let lab: Lab;
  let nm: NmHandle | undefined;
  let etc: string;
  let paths: HostPaths;

  beforeEach(async () => {
    lab = await createLab();
    etc = await mkdtemp(join(tmpdir(), 'hostnic-etc-'));
    paths = { ...defaultHostPaths({ HOSTNIC_CONFIG_ROOT: etc }), stateDir: lab.stateDir };
  });

  afterEach(async () => {
    await nm?.stop();
    nm = undefined;
    await lab.destroy();
    await rm(etc, { recursive: true, force: true });
  });

  async function start(nic: string): Promise<NmHandle> {
    nm = await startNetworkManager({ netns: lab.hostNs, devices: [nic], profiles: { [nic]: { address: '192.168.1.31/24' } } });
    paths = { ...paths, nmConfFile: nm.confFile, nmConfDir: nm.confDir, nmSystemConfDir: nm.systemConfDir };
    await nm.waitFor(nic, managed);
    return nm;
  }

  const nmCheck = async (): Promise<Check> => {
    const checks = await runChecks({ netns: lab.hostNs, paths, docker: false });
    return checks.find((c) => c.id === 'networkmanager')!;
  };

  it('manages the lab NIC (and puts its address on it); inspection and doctor say so; nm.managed turns it off and back on', async () => {
    await lab.addPrimary();
    const nic = await lab.addNic({ name: 'nic1' });
    const handle = await start(nic);

    // It grabbed the NIC: the profile's address is on it. It sees nothing of the machine.
    expect(await must(['ip', '-n', lab.host, '-o', '-4', 'addr', 'show', 'dev', nic])).toContain('192.168.1.31/24');
    const seen = (await handle.devices()).map((d) => d.device).sort();
    expect(seen).not.toContain('eth0');
    expect((await handle.devices()).find((d) => d.device === 'uplink0')?.state).toBe('unmanaged');

    const nics = await listNics({ netns: lab.hostNs, paths });
    const n1 = nics.find((n) => n.name === nic)!;
    expect(n1.managedBy).toEqual(['NetworkManager']);
    expect(n1.claims[0]).toMatchObject({ manager: 'NetworkManager', active: true, state: 'connected', connection: `hostnic-test-${nic}` });
    expect(nics.find((n) => n.name === 'uplink0')!.managedBy).toEqual([]);
    const claims = await detectManagers(nics, { netns: lab.hostNs, paths });
    expect(claims.get(nic)!.map((c) => c.manager)).toEqual(['NetworkManager']);

    const check = await nmCheck();
    expect(check.verdict).toBe('fail');
    expect(check.nics).toEqual([nic]);
    expect(check.fix!.steps.map((s) => s.kind)).toEqual(['nm.managed', 'nm.reload', 'file.write', 'nm.reload']);

    // The nm.managed kind alone, by hand.
    const params = { device: nic, managed: false };
    const saved = await nmManaged.capture!(params);
    expect(saved).toBe(true);
    for (const cmd of nmManaged.apply(params, saved)) await runCmd(cmd);
    await handle.waitFor(nic, unmanaged);
    expect((await nmCheck()).verdict).toBe('ok');
    for (const cmd of nmManaged.undo(params, saved)) await runCmd(cmd);
    await handle.waitFor(nic, managed);
    expect((await nmCheck()).verdict).toBe('fail');
  });

  it('the fix: conf.d file + reload + managed no; it holds across a restart; undo gives the NIC back and removes the file', async () => {
    await lab.addPrimary();
    const nic = await lab.addNic({ name: 'nic1' });
    const handle = await start(nic);

    const check = await nmCheck();
    expect(check.verdict).toBe('fail');
    const done = await applySteps(check.fix!.steps);

    await handle.waitFor(nic, unmanaged);
    const file = join(handle.confDir, '90-hostnic.conf');
    const text = await readFile(file, 'utf8');
    // A veth has no permanent MAC, and NetworkManager matches mac: against that only: matched by name.
    expect(text).toContain(`[keyfile]\nunmanaged-devices+=interface-name:${nic}\n`);
    const printed = await must(['NetworkManager', '--print-config', `--config=${handle.confFile}`, `--config-dir=${handle.confDir}`, `--system-config-dir=${handle.systemConfDir}`]);
    expect(printed).toMatch(new RegExp(`unmanaged-devices=.*interface-name:${nic}`));
    expect((await nmCheck()).verdict).toBe('ok');

    // Idempotent: a second doctor run finds nothing to fix.
    expect((await nmCheck()).fix).toBeUndefined();

    // After a restart with fresh runtime state (a reboot), the file alone keeps it unmanaged.
    await handle.restart();
    await handle.waitFor(nic, unmanaged);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await handle.state(nic)).toBe('unmanaged');

    await undoSteps(done);
    await handle.waitFor(nic, managed);
    expect(existsSync(file)).toBe(false);
    expect((await nmCheck()).verdict).toBe('fail');
  });

  it('the file keeps the meaning of an admin list of only except: specs', async () => {
    await lab.addPrimary();
    const nic = await lab.addNic({ name: 'nic1' });
    const handle = await start(nic);
    // The admin's own list: "everything but uplink0 and nic1 unmanaged".
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(handle.confDir, '10-admin.conf'), '[keyfile]\nunmanaged-devices=except:interface-name:uplink0,except:interface-name:nic1\n');
    await must(['nmcli', 'general', 'reload', 'conf'], { env: { ...process.env, ...handle.env } });
    const check = await nmCheck();
    expect(check.verdict).toBe('fail');
    const write = check.fix!.steps.find((s) => s.kind === 'file.write')!;
    expect((write.params as { content: string }).content).toContain(`unmanaged-devices+=*;interface-name:${nic}\n`);
  });
});
