// The benchmark's throwaway lab, the same shape as the tests' (test/README.md):
//
//   cloud netns hnbc-<id>: bridge br0 with the gateway 192.168.1.1/24
//   host  netns hnbh-<id>: nic1 (a veth; its peer p-nic1 is a port of br0); hostnic runs here
//   a real Docker container hnbench-<id> (hostnic-test/busybox:latest, sleep)
//
// Nothing outside what it creates is touched (never the machine's eth0 or
// default route). destroy() removes everything, and is safe to call twice or
// after a half-built setup.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNs, must, run } from './proc.mjs';

export const IMAGE = 'hostnic-test/busybox:latest';
export const GW4 = '192.168.1.1';
export const ADDR = '192.168.1.40/24';
export const NIC = 'nic1';
const BRIDGE_MAC = '02:00:00:00:01:01';
/** Kernel defaults in every namespace the lab makes (a new netns copies some IPv4 values from the VM's). */
const BASELINE_SYSCTLS = ['all', 'default'].flatMap((dir) =>
  ['arp_ignore=0', 'arp_announce=0', 'arp_notify=0', 'rp_filter=0', 'forwarding=0'].map((kv) => `net/ipv4/conf/${dir}/${kv}`),
);

function listNetns() {
  try { return readdirSync('/run/netns'); } catch { return []; }
}

/** Every regular file's text under dir (state directories: small files). */
function treeText(dir) {
  let out = '';
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out += treeText(p);
    else if (e.isFile()) {
      try { if (statSync(p).size < 1 << 20) out += `\n${readFileSync(p, 'utf8')}`; } catch { /* gone */ }
    }
  }
  return out;
}

/** A rootfs tarball of the static busybox with its applet links (what test/helpers/docker.ts imports). */
async function importImage(dir) {
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) throw new Error(`${IMAGE} is missing and so is ${busybox}: apt-get install busybox-static, or run the e2e tests once`);
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await must([busybox, '--list']);
  for (const applet of stdout.split('\n').map((s) => s.trim())) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  const tarball = join(dir, 'rootfs.tar');
  await must(['tar', '-C', root, '-cf', tarball, '.']);
  await must(['docker', 'import', '--change', 'CMD ["/bin/sh"]', tarball, IMAGE]);
  rmSync(root, { recursive: true, force: true });
  rmSync(tarball, { force: true });
}

export class Lab {
  constructor() {
    this.id = randomBytes(3).toString('hex');
    this.host = `hnbh-${this.id}`;
    this.cloud = `hnbc-${this.id}`;
    this.hostNs = `/run/netns/${this.host}`;
    this.container = `hnbench-${this.id}`;
    // The state directories live where hostnic's default does (/run), not in /tmp.
    this.stateRoot = `/run/hostnic-bench-${this.id}`;
    this.tmp = mkdtempSync(join(tmpdir(), `hostnic-bench-${this.id}-`));
    this.netnsBefore = new Set(listNetns());
    this.made = { netns: [], container: false };
    this.pid = 0;
    this.ctrNs = '';
    this.ctrDefault = null; // { gateway, dev } of the container's own IPv4 default route
  }

  async setup() {
    const ping = await run(['docker', 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 });
    if (ping.code !== 0) {
      throw new Error(`no Docker daemon answers (${ping.stderr.trim()}); start dockerd (test/helpers/docker.ts ensureDocker() shows how) and retry`);
    }
    if ((await run(['docker', 'image', 'inspect', IMAGE])).code !== 0) await importImage(this.tmp);

    mkdirSync(this.stateRoot, { mode: 0o700 });
    for (const ns of [this.host, this.cloud]) {
      await must(['ip', 'netns', 'add', ns]);
      this.made.netns.push(ns);
      await must(inNs(`/run/netns/${ns}`, ['sysctl', '-q', '-w', ...BASELINE_SYSCTLS]));
      await must(['ip', '-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    const c = ['ip', '-n', this.cloud];
    await must([...c, 'link', 'add', 'br0', 'address', BRIDGE_MAC, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    await must([...c, 'link', 'set', 'dev', 'br0', 'mtu', '1500', 'up']);
    await must([...c, 'addr', 'add', `${GW4}/24`, 'dev', 'br0']);
    await must(['ip', '-n', this.host, 'link', 'add', 'name', NIC, 'type', 'veth', 'peer', 'name', `p-${NIC}`, 'netns', this.cloud]);
    await must([...c, 'link', 'set', 'dev', `p-${NIC}`, 'master', 'br0', 'up']);
    await must(['ip', '-n', this.host, 'link', 'set', 'dev', NIC, 'up']);

    this.made.container = true;
    await must(['docker', 'run', '-d', '--name', this.container, '--label', 'hostnic-bench=1', IMAGE, 'sleep', '1000000'], { timeoutMs: 60_000 });
    this.pid = Number((await must(['docker', 'inspect', '--format', '{{.State.Pid}}', this.container])).stdout.trim());
    if (!(this.pid > 0)) throw new Error(`container ${this.container} has no PID`);
    this.ctrNs = `/proc/${this.pid}/ns/net`;
    const routes = JSON.parse((await must(inNs(this.ctrNs, ['ip', '-4', '-json', 'route', 'show', 'default']))).stdout || '[]');
    this.ctrDefault = routes[0] ? { gateway: routes[0].gateway, dev: routes[0].dev } : null;
  }

  /** A fresh, empty state directory under the lab's state root. */
  stateDir(name) {
    const dir = join(this.stateRoot, name);
    mkdirSync(dir, { mode: 0o700 });
    return dir;
  }

  /**
   * Throw unless the lab is back in its starting state: nic1 in the host,
   * up; no NIC of ours in the container; its own default route in place.
   */
  async assertReset(after) {
    const host = JSON.parse((await must(['ip', '-n', this.host, '-json', 'link', 'show'])).stdout || '[]');
    const nic = host.find((l) => l.ifname === NIC);
    const problems = [];
    if (!nic) problems.push(`${NIC} is not in the host namespace`);
    else if (!(nic.flags ?? []).includes('UP')) problems.push(`${NIC} is down in the host`);
    const ctr = JSON.parse((await must(inNs(this.ctrNs, ['ip', '-json', 'link', 'show']))).stdout || '[]');
    const extra = ctr.filter((l) => l.ifname !== 'lo' && l.ifname !== 'eth0').map((l) => l.ifname);
    if (extra.length) problems.push(`the container still has ${extra.join(', ')}`);
    const routes = JSON.parse((await must(inNs(this.ctrNs, ['ip', '-4', '-json', 'route', 'show', 'default']))).stdout || '[]');
    const want = this.ctrDefault;
    const ok = want ? routes.length === 1 && routes[0].gateway === want.gateway && routes[0].dev === want.dev : routes.length === 0;
    if (!ok) problems.push(`container default routes are ${JSON.stringify(routes)}`);
    if (problems.length) throw new Error(`after ${after}: ${problems.join('; ')}`);
  }

  /** hostnic-* namespaces that appeared while the lab lived and are ours (named in our state files). */
  ownTempNamespaces() {
    const fresh = listNetns().filter((n) => n.startsWith('hostnic-') && !this.netnsBefore.has(n));
    if (fresh.length === 0) return [];
    const words = new Set(treeText(this.stateRoot).split(/[^\w.-]+/));
    return fresh.filter((n) => words.has(n));
  }

  /** Remove everything; never throws; returns the problems met. */
  async destroy() {
    if (this.destroyed) return this.destroyed;
    this.destroyed = (async () => {
      const problems = [];
      const step = async (what, fn) => {
        try { await fn(); } catch (e) { problems.push(`${what}: ${e.message}`); }
      };
      // The container first: its namespace dies with it, and a veth inside is destroyed.
      if (this.made.container) {
        await step(`docker rm -f ${this.container}`, async () => {
          const r = await run(['docker', 'rm', '-f', this.container], { timeoutMs: 60_000 });
          if (r.code !== 0 && !/no such container/i.test(r.stderr)) throw new Error(r.stderr.trim());
        });
      }
      const temps = this.ownTempNamespaces();
      for (const ns of [...temps, ...this.made.netns.slice().reverse()]) {
        await step(`ip netns del ${ns}`, async () => {
          const r = await run(['ip', 'netns', 'del', ns]);
          if (r.code !== 0 && listNetns().includes(ns)) throw new Error(r.stderr.trim());
        });
      }
      await step('remove state directories', () => rmSync(this.stateRoot, { recursive: true, force: true }));
      await step('remove temp files', () => rmSync(this.tmp, { recursive: true, force: true }));
      const left = listNetns().filter((n) => n === this.host || n === this.cloud || temps.includes(n));
      if (left.length) problems.push(`namespaces left: ${left.join(', ')}`);
      return problems;
    })();
    return this.destroyed;
  }
}
