/**
 * hostnic apply with Docker containers (issue 13, section 2): a running
 * container named in the file gets its NIC, a stopped one waits (listed, not
 * an error). The namespaces stay alive here: no physical-return or
 * virtual-death path is exercised.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';
import { createContainer, ensureDocker, removeContainer, runContainer, type RunningContainer } from '../helpers/docker.js';

const root = requireRoot();

describe.skipIf(!root)('hostnic apply with docker containers (real engine)', () => {
  let lab: Lab;
  let conf: string;
  let running: RunningContainer;
  let stopped: { name: string };

  beforeAll(async () => {
    await ensureDocker();
    // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
    // DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    conf = mkdtempSync(join(tmpdir(), 'hostnic-conf-'));
    chmodSync(conf, 0o755);
    running = await runContainer();
    stopped = await createContainer();
  });
  afterAll(async () => {
    if (running) await removeContainer(running.name);
    if (stopped) await removeContainer(stopped.name);
    await lab?.destroy();
    if (conf) rmSync(conf, { recursive: true, force: true });
  });

  it('attaches into the running container, lists the stopped one (by docker: and by its bare name) and one not made yet as waiting (exit 0); then everything is in place', async () => {
    const n1 = await lab.addNic();
    const n2 = await lab.addNic({ addrs: ['10.50.0.7/24'] });
    const n3 = await lab.addNic();
    const n4 = await lab.addNic();
    mkdirSync(join(conf, 'etc', 'hostnic'), { recursive: true, mode: 0o755 });
    const file = join(conf, 'etc', 'hostnic', 'attachments.yaml');
    writeFileSync(file, [
      'attachments:',
      `  - container: docker:${running.name}`,
      `    nic: ${n1}`,
      '    addresses: [192.168.1.4/24@192.168.1.1]',
      `  - container: docker:${stopped.name}   # not started`,
      `    nic: ${n2}`,
      '    addresses: [192.168.1.5/24]',
      `  - container: docker:${stopped.name}-not-made-yet   # no such container (yet): waits too`,
      `    nic: ${n3}`,
      '    addresses: [192.168.1.6/24]',
      `  - container: ${stopped.name}   # by its bare name, stopped: waits too`,
      `    nic: ${n4}`,
      '    addresses: [192.168.1.7/24]',
      '',
    ].join('\n'), { mode: 0o644 });
    const env = { HOSTNIC_CONFIG_ROOT: conf };
    const hostN2 = (await lab.snapshot(lab.host)).links.find((l) => l.ifname === n2);

    const r = await lab.hostnic(['apply', '--json'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { entries: { action: string; why?: string }[] };
    expect(report.entries.map((e) => [e.action, e.why])).toEqual([['attached', undefined], ['skipped', 'container-not-running'], ['skipped', 'container-not-running'], ['skipped', 'container-not-running']]);
    const ctrNs = `/proc/${running.pid}/ns/net`;
    const eth1 = (await lab.snapshot(ctrNs)).links.find((l) => l.ifname === 'eth1');
    expect(eth1?.addrs.map((a) => `${a.local}/${a.prefixlen}`)).toContain('192.168.1.4/24');
    expect(await lab.ping(ctrNs, lab.remote4)).toBe(true);
    // The stopped container's NIC was not touched.
    expect((await lab.snapshot(lab.host)).links.find((l) => l.ifname === n2)).toEqual(hostN2);

    const again = await lab.hostnic(['apply'], { env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`in place .*docker:${running.name}`));
    expect(again.stdout).toMatch(new RegExp(`waiting .*docker:${stopped.name}`));
    // status lists both as waiting for their container, not as an error.
    const st = JSON.parse((await lab.hostnic(['status', '--json'], { env })).stdout) as { desired: { waiting: { why: string }[] } };
    expect(st.desired.waiting.map((w) => w.why)).toEqual(['container-not-running', 'container-not-running', 'container-not-running']);
  });
});
