/**
 * Outcomes that tell the truth (issue 12, section 4): a rollback finds a NIC
 * someone renamed by its MAC and brings it home; one it cannot find says so
 * and exits 3, keeping the journal;
 * the commands printed for a person name namespaces by paths that outlive
 * hostnic, and work when run as printed; a detach without its record says
 * what it could not know.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, requireRoot, waitForExit, type Lab, type Proc, type RunResult, type Snapshot } from '../helpers/lab.js';
import { comparable, resume, takeHostName } from '../helpers/hostnic.js';
import { attachmentFiles, journalFiles, startPaused, theJournal, HOOKS } from './reliability-helpers.js';

const root = requireRoot();

/** Split a command as hostnic prints it (exec.ts render: plain words, or '…' with '\'' for a quote). */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let any = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end);
      i = end;
      any = true;
    } else if (c === '\\') {
      cur += line[++i];
    } else if (c === ' ') {
      if (any || cur) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
    }
  }
  if (any || cur) out.push(cur);
  return out;
}

/** The commands printed under "to undo by hand:", in order. */
function byHand(stderr: string): string[] {
  const out: string[] = [];
  let inList = false;
  for (const line of stderr.split('\n')) {
    if (/^ {4}to (undo|finish) by hand:$/.test(line)) inList = true;
    else if (inList && /^ {6}\S/.test(line)) out.push(line.trim());
    else inList = false;
  }
  return out;
}

/** Run the printed commands one by one, as a person would in hostnic's namespace, after hostnic exited. */
async function runAsPrinted(lab: Lab, commands: string[]): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const c of commands) results.push(await lab.inNs(lab.host, words(c)));
  return results;
}

describe.skipIf(!root)('outcomes that tell the truth', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;
  const attach = (): string[] => ['attach', `pid:${ctr.pid}`, nic, '192.168.1.31/24', '--mac', '02:00:00:00:00:31'];

  // A lab each: a test that fails (before its fix) leaves nothing the next one trips on.
  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    ctr = await lab.addContainer();
  });
  afterEach(async () => { await lab?.destroy(); });

  /** The NIC with host state (an address, a route through it, a sysctl), or bare. */
  async function addNic(bare = false): Promise<void> {
    nic = await lab.addNic(bare ? { mtu: 1460 } : { addrs: ['10.50.0.31/24'], mtu: 1460, alias: 'truth test' });
    if (!bare) {
      await lab.inNs(lab.host, ['ip', 'route', 'add', '10.61.0.0/16', 'via', '10.50.0.1', 'dev', nic]);
      await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.rp_filter=2`]);
    }
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
  }

  async function planSteps(): Promise<string[]> {
    const dry = JSON.parse((await lab.hostnic([...attach(), '--dry-run', '--json'])).stdout) as { plan: { steps: { title: string }[] } };
    return dry.plan.steps.map((s) => s.title);
  }

  async function expectAsBefore(label: string): Promise<void> {
    expect(comparable(await lab.snapshot(lab.host)), label).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath)), label).toEqual(comparable(ctrBefore));
    expect(journalFiles(lab), label).toEqual([]);
    expect(attachmentFiles(lab), label).toEqual([]);
  }

  // A NIC someone renamed in the container meanwhile is found by its MAC (steps' `relocate`): the rollback
  // puts it back from the name it has, and "every change was rolled back" is then the truth. Bare NIC (nothing
  // to restore on the host) and with host state (the host-side undos address it by its host name).
  for (const bare of [true, false]) {
    it(`someone renames the NIC in the container mid-attach, then the attach fails (${bare ? 'bare NIC' : 'NIC with host state'}): the rollback finds it by its MAC and brings it home exactly, exit 1`, async () => {
      await addNic(bare);
      const steps = await planSteps();
      const last = steps.length - 1;
      expect(steps.findIndex((s) => /^Rename /.test(s))).toBeGreaterThan(0);
      // After the move and the rename (and tag) in the container; the last step will fail.
      const child = await startPaused(lab, attach(), `before:${last}`, { HOSTNIC_TEST_FAIL: String(last) });
      const renamed = await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'name', 'stray0']);
      expect(renamed.exitCode, renamed.stderr).toBe(0);
      resume(lab.stateDir);
      const r = await waitForExit(child);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/every change was rolled back/);
      await expectAsBefore('after the rollback');
    });
  }

  it('someone renames the NIC in the container right after the move, before hostnic renames it: the move back gives it its host name, exit 1, host exactly as before', async () => {
    await addNic();
    const steps = await planSteps();
    const rename = steps.findIndex((s) => /^Rename /.test(s));
    const child = await startPaused(lab, attach(), `before:${rename}`);
    const renamed = await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', nic, 'name', 'stray0']);
    expect(renamed.exitCode, renamed.stderr).toBe(0);
    resume(lab.stateDir);
    const r = await waitForExit(child);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/every change was rolled back/);
    await expectAsBefore('after the rollback');
  });

  it('someone moves the NIC out of the container mid-attach, where hostnic cannot see it: the rollback says so, exit 3, the journal stays; after it is brought back, recover finishes', async () => {
    await addNic(true);
    const steps = await planSteps();
    const last = steps.length - 1;
    const child = await startPaused(lab, attach(), `before:${last}`, { HOSTNIC_TEST_FAIL: String(last) });
    const hostnicPid = theJournal(lab).pid;
    const elsewhere = await lab.addContainer();
    const moved = await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', elsewhere.nsPath]);
    expect(moved.exitCode, moved.stderr).toBe(0);
    resume(lab.stateDir);
    const r = await waitForExit(child);

    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).not.toMatch(/every change was rolled back/);
    expect(r.stderr).toMatch(/ROLLBACK INCOMPLETE/);
    expect(r.stderr).toMatch(new RegExp(`found no NIC with MAC [0-9a-f:]+ or 02:00:00:00:00:31 in /proc/${ctr.pid}/ns/net or the host: someone moved it`));
    expect(r.stderr).not.toContain(`/proc/${hostnicPid}/`);
    // The state tells the truth: the journal is kept, status shows the unfinished plan.
    expect(journalFiles(lab)).toHaveLength(1);
    expect(attachmentFiles(lab)).toEqual([]);
    const s = await lab.hostnic(['status']);
    expect(s.stderr).toMatch(new RegExp(`unfinished plan.*Attach ${nic} `, 'm'));
    // A person brings it back where hostnic left it (in the container, as eth1); recover then finishes.
    const back = await lab.inNs(elsewhere.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', ctr.nsPath]);
    expect(back.exitCode, back.stderr).toBe(0);
    const rec = await lab.hostnic(['recover']);
    expect(rec.exitCode, rec.stderr).toBe(0);
    await expectAsBefore('after it was brought back and recover');
  });

  it('on the private path, a leftover move back to the host names the host namespace by a lasting path, and runs as printed after hostnic exited', async () => {
    await addNic();
    await takeHostName(lab, ctr, nic);
    ctrBefore = await lab.snapshot(ctr.nsPath);
    const steps = await planSteps();
    expect(steps.some((s) => /^Create private namespace /.test(s))).toBe(true);
    const hop = steps.findIndex((s) => new RegExp(`^Move ${nic} into hostnic-`).test(s));
    expect(hop).toBeGreaterThan(0);
    const child = lab.spawnHostnic(attach(), { env: { ...HOOKS, HOSTNIC_TEST_FAIL: String(steps.length - 1), HOSTNIC_TEST_UNDO_FAIL: String(hop) } });
    const r = await waitForExit(child);
    expect(r.exitCode, r.stderr).toBe(3);
    const commands = byHand(r.stderr);
    const move = commands.find((c) => / netns /.test(c));
    expect(move).toMatch(new RegExp(`^nsenter --net=/run/netns/hostnic-\\w+ -- ip link set dev ${nic} netns /run/netns/${lab.host}$`));
    expect(commands.join('\n')).not.toContain(`/proc/${theJournal(lab).pid}/`);
    const ran = await runAsPrinted(lab, commands);
    ran.forEach((x, k) => expect(x.exitCode, `${commands[k]}\n${x.stderr}`).toBe(0));
    // The printed commands alone put everything back (the private namespace deleted last).
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    // Settled by hand: the journal that says so goes too (what `recover` after a namespace deleted by hand does is section 3's).
    rmSync(join(lab.stateDir, 'journal', journalFiles(lab)[0]!));
    await expectAsBefore('after the commands');
  });

  it('detach without the state directory: exit 0, but it says which host settings it could not know (text and --json)', async () => {
    await addNic();
    for (const json of [true, false]) {
      const a = await lab.hostnic(attach());
      expect(a.exitCode, a.stderr).toBe(0);
      // The state directory is lost (a reboot would also lose the namespace; a wiped /run/hostnic does not).
      rmSync(join(lab.stateDir, 'attachments'), { recursive: true, force: true });
      const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, ...(json ? ['--json'] : [])]);
      expect(d.exitCode, d.stderr).toBe(0);
      if (json) {
        const doc = JSON.parse(d.stdout) as { ok: boolean; detached: { nic: string; unknown?: string[] }[] };
        expect(doc.ok).toBe(true);
        expect(doc.detached).toEqual([expect.objectContaining({ nic, unknown: ['addresses', 'routes', 'neighbours', 'sysctls', 'master'] })]);
      } else {
        expect(d.stdout).toMatch(new RegExp(`^detached ${nic} from `, 'm'));
        expect(d.stderr).toMatch(new RegExp(`^hostnic: warning: ${nic} had no record \\(state directory lost\\?\\): restored what the tag on it carries `
          + '\\(name, MAC, MTU, alias, up state\\); not known, so not restored: host addresses, host routes through it, '
          + 'permanent neighbour entries, per-interface sysctls, bridge or bond it was a port of$', 'm'));
      }
      // What the tag carries is back; what it does not is missing, as said.
      const host = comparable(await lab.snapshot(lab.host));
      const was = comparable(hostBefore).links.find((l) => l.ifname === nic)!;
      const now = host.links.find((l) => l.ifname === nic)!;
      expect({ address: now.address, mtu: now.mtu, ifalias: now.ifalias, up: now.flags.includes('UP') })
        .toEqual({ address: was.address, mtu: was.mtu, ifalias: was.ifalias, up: was.flags.includes('UP') });
      expect(now.addrs.filter((x) => x.family === 'inet')).toEqual([]);
      expect(now.sysctl['ipv4.rp_filter']).not.toBe('2');
      expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
      // Put back by hand what the detach could not know, for the next round.
      await lab.inNs(lab.host, ['ip', 'addr', 'add', '10.50.0.31/24', 'dev', nic]);
      await lab.inNs(lab.host, ['ip', 'route', 'add', '10.61.0.0/16', 'via', '10.50.0.1', 'dev', nic]);
      await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.rp_filter=2`]);
      expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    }
  });
});
