/**
 * What a person (or a script) sees: renderers, colour, --quiet, --json,
 * --verbose, help. Each test also checks that the system state is what the
 * command claims.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createLab, requireRoot, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, linkIn } from '../helpers/hostnic.js';

const root = requireRoot();
// ESC: any cursor movement or colour code.
const ESC = /\x1b\[/;

/** The environment of a person at a terminal: no CI (chalk and hostnic treat any CI variable as "plain output"), no forced colour. */
function ttyEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'xterm-256color', HOME: '/root' };
  return { ...env, ...extra };
}

describe.skipIf(!root)('output modes', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;
  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    nic = await lab.addNic();
    ctr = await lab.addContainer();
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
  });
  afterEach(async () => { await lab.destroy(); });

  /** The container has eth1 with `cidr`; returns its snapshot. */
  async function expectInContainer(cidr: string): Promise<Snapshot> {
    const snap = await lab.snapshot(ctr.nsPath);
    expect(linkIn(snap, 'eth1').addrs.map((a) => `${a.local}/${a.prefixlen}`)).toContain(cidr);
    return snap;
  }

  /** Both namespaces exactly as before the attach. */
  async function expectAsBefore(): Promise<void> {
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  }

  it('piped: one plain line per event, no cursor or colour codes; --quiet prints nothing on success', async () => {
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.4/24'], { env: { CI: '' } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(ESC);
    expect(r.stdout).toMatch(/^✔ Add 192\.168\.1\.4\/24 to eth1$/m);
    await expectInContainer('192.168.1.4/24');
    const q = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--quiet']);
    expect(q.exitCode).toBe(0);
    expect(q.stdout).toBe('');
    expect(q.stderr).toBe('');
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).toContain(nic);
    await expectAsBefore();
  });

  it('--json: exactly one JSON document on stdout, for attach, status and detach', async () => {
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.4/24', '--json']);
    expect(a.exitCode).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ ok: true, nic, name: 'eth1', addresses: ['192.168.1.4/24'] });
    const attached = await expectInContainer('192.168.1.4/24');
    const hostAttached = await lab.snapshot(lab.host);
    const s = await lab.hostnic(['status', '--json']);
    expect(JSON.parse(s.stdout).attachments).toHaveLength(1);
    const dry = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--json', '--dry-run']);
    const plans = JSON.parse(dry.stdout).plans as { steps: { commands: string[] }[] }[];
    expect(plans).toHaveLength(1);
    expect(plans[0]!.steps.flatMap((st) => st.commands)).toContain(`nsenter --net=/proc/${ctr.pid}/ns/net -- ip link set dev eth1 down`);
    // status and the dry run changed nothing.
    expect(await lab.snapshot(ctr.nsPath)).toEqual(attached);
    expect(await lab.snapshot(lab.host)).toEqual(hostAttached);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--json']);
    expect(JSON.parse(d.stdout)).toMatchObject({ ok: true, detached: [{ nic, where: 'container' }] });
    await expectAsBefore();
  });

  it('--verbose traces every command with its duration on stderr', async () => {
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.4/24', '--verbose']);
    expect(r.exitCode).toBe(0);
    // Commands for one namespace share an `ip -batch` process, shown with its input.
    // The host side and the move: one process; the container side after the announcement: another.
    expect(r.stderr).toMatch(new RegExp(`\\$ ip -batch - <<'EOF'\\nlink set dev ${nic} down\\nlink set dev ${nic} netns /proc/\\d+/ns/net\\nEOF \\(\\d+\\.\\d ms\\)`));
    expect(r.stderr).toMatch(new RegExp(`\\$ nsenter --net=/proc/${ctr.pid}/ns/net -- ip -batch - <<'EOF'\\nlink set dev ${nic} name eth1\\nlink set dev eth1 .*\\naddr add 192\\.168\\.1\\.4/24 dev eth1\\nlink set dev eth1 up\\n(.*\\n)*EOF \\(\\d+\\.\\d ms\\)`));
    expect(r.stderr).not.toMatch(/ip netns add/);
  });

  it('colour: none when piped or with NO_COLOR / --no-color, forced by FORCE_COLOR', async () => {
    await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.4/24', '-q']);
    // (lab.hostnic() removes FORCE_COLOR from the environment unless a test sets it.)
    const plain = await lab.hostnic(['status'], { env: { NO_COLOR: '' } });
    expect(plain.stdout).not.toMatch(ESC);
    const forced = await lab.hostnic(['status'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(ESC);
    expect(forced.stdout).toContain('in place');
    const off = await lab.hostnic(['status', '--no-color'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(off.stdout).not.toMatch(ESC);
    // On a terminal: colour by default, none with NO_COLOR.
    const onTty = async (env: Record<string, string>) => (await execa('script', ['-qec', `nsenter --net=${lab.hostNs} -- ${process.execPath} ${lab.cli} status`, '/dev/null'], {
      env: ttyEnv({ HOSTNIC_STATE_DIR: lab.stateDir, ...env }), extendEnv: false, reject: false,
    })).stdout;
    expect(await onTty({ NO_COLOR: '' })).toMatch(/\x1b\[32min place/);
    expect(await onTty({ NO_COLOR: '1' })).not.toMatch(ESC);
    // An explicit --color beats NO_COLOR.
    const on = await lab.hostnic(['status', '--color'], { env: { NO_COLOR: '1' } });
    expect(on.stdout).toMatch(ESC);
  });

  it('on a terminal: the animated task list (run under a pseudo-terminal)', async () => {
    const hostBefore = comparable(await lab.snapshot(lab.host));
    const cmd = ['nsenter', `--net=${lab.hostNs}`, '--', process.execPath, lab.cli, 'attach', `pid:${ctr.pid}`, nic, '192.168.1.4/24'];
    // script(1) runs the command on a pty; its own output is the terminal transcript.
    // A pty made by script(1) has no size: give it one, as a terminal would.
    const r = await execa('script', ['-qec', `stty cols 120 rows 40; ${cmd.map((a) => `'${a}'`).join(' ')}`, '/dev/null'], {
      env: ttyEnv({ HOSTNIC_STATE_DIR: lab.stateDir }), extendEnv: false, reject: false,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/\x1b\[\d*[AGK]/); // cursor movement: the animated renderer
    expect(r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')).toContain('Attach nic1 to');
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, '-q'])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  });
});

describe('help', () => {
  it.each([
    [['attach', '--help'], 'hostnic attach nginx eth1 192.168.1.4/24@192.168.1.1'],
    [['detach', '--help'], 'hostnic detach nginx'],
    [['status', '--help'], 'hostnic status --json'],
    [['--help'], 'Exit codes:'],
  ])('%j shows real examples and the exit codes', async (args, example) => {
    const { REPO } = await import('../helpers/lab.js');
    const r = await execa(process.execPath, [`${REPO}/bin/hostnic`, ...args], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(example);
    expect(r.stdout).toContain('3  incomplete: a rollback that could not finish, or a detach that brought the NIC home without all of');
  });
});
