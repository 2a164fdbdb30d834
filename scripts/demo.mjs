#!/usr/bin/env node
// hostnic demo: a throwaway lab of network namespaces, the real attach, a
// ping through the NIC, status, detach, and everything removed again. It
// touches nothing of this machine's own interfaces or routes.
//
//   lab "host"  (hnd-host-ID)   where hostnic runs; its NIC nic1 is one end of a veth
//   lab "cloud" (hnd-cloud-ID)  bridge br0 with the gateway 192.168.1.1, the other end of nic1
//   container                   a process in a namespace of its own (unshare --net sleep)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { inNs, must } from './bench/proc.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const id = randomBytes(3).toString('hex');
const HOST = `hnd-host-${id}`;
const CLOUD = `hnd-cloud-${id}`;
const HOST_NS = `/run/netns/${HOST}`;
const CLOUD_NS = `/run/netns/${CLOUD}`;
const stateDir = mkdtempSync(join(tmpdir(), 'hostnic-demo-'));
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let container;

/** hostnic in the lab host, its output straight to the terminal. */
function hostnic(args) {
  console.log(`\n${bold(`$ hostnic ${args.join(' ')}`)}`);
  const [file, ...rest] = inNs(HOST_NS, [process.execPath, join(root, 'bin', 'hostnic'), ...args]);
  const r = spawnSync(file, rest, { stdio: 'inherit', env: { ...process.env, HOSTNIC_STATE_DIR: stateDir } });
  if (r.status !== 0) throw new Error(`hostnic ${args[0]} exited ${r.status ?? r.signal}`);
}

async function show(title, ns, argv) {
  console.log(`\n${bold(title)}`);
  process.stdout.write((await must(inNs(ns, argv))).stdout);
}

/** Synchronous: it also runs from the signal handlers, which exit right after. */
function cleanup() {
  container?.kill('SIGKILL');
  for (const ns of [HOST, CLOUD]) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  rmSync(stateDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (it creates network namespaces)');
  console.log(bold('Building a throwaway lab (network namespaces only)...'));
  await must(['ip', 'netns', 'add', HOST]);
  await must(['ip', 'netns', 'add', CLOUD]);
  for (const ns of [HOST_NS, CLOUD_NS]) await must(inNs(ns, ['ip', 'link', 'set', 'lo', 'up']));
  await must(inNs(CLOUD_NS, ['ip', 'link', 'add', 'name', 'br0', 'type', 'bridge']));
  await must(inNs(CLOUD_NS, ['ip', 'addr', 'add', '192.168.1.1/24', 'dev', 'br0']));
  await must(inNs(CLOUD_NS, ['ip', 'link', 'set', 'br0', 'up']));
  // The VM's second cloud NIC: nic1 in the host, its wire on the cloud bridge.
  await must(inNs(HOST_NS, ['ip', 'link', 'add', 'name', 'nic1', 'type', 'veth', 'peer', 'name', 'wire1', 'netns', CLOUD]));
  await must(inNs(CLOUD_NS, ['ip', 'link', 'set', 'wire1', 'master', 'br0', 'up']));
  await must(inNs(HOST_NS, ['ip', 'link', 'set', 'nic1', 'up']));
  container = spawn('unshare', ['--net', 'sleep', 'infinity'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => { container.once('spawn', resolve); container.once('error', reject); });
  const ctrNs = `/proc/${container.pid}/ns/net`;
  // unshare execs sleep in the new namespace: wait until it is there.
  const ownNs = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 100 && readlinkSync(ctrNs) === ownNs; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await must(inNs(ctrNs, ['ip', 'link', 'set', 'lo', 'up']));
  const target = `pid:${container.pid}`;

  await show('The container before: only lo', ctrNs, ['ip', '-br', 'addr']);
  hostnic(['attach', target, 'nic1', '192.168.1.4/24@192.168.1.1']);
  await show('The container now has the NIC, its address and a default route via the cloud gateway', ctrNs, ['ip', '-br', 'addr']);
  await show('', ctrNs, ['ip', 'route']);
  await show('Ping the cloud gateway from the container, through the NIC', ctrNs, ['ping', '-c', '2', '-W', '2', '192.168.1.1']);
  hostnic(['status']);
  hostnic(['detach', target]);
  await show('nic1 is back in the host, as it was', HOST_NS, ['ip', '-br', 'link', 'show', 'nic1']);
  await show('The container is back to lo only', ctrNs, ['ip', '-br', 'addr']);
  console.log(`\n${bold('Demo done; removing the lab.')}`);
}

main()
  .then(() => { cleanup(); })
  .catch((e) => { cleanup(); console.error(`demo: ${e.message}`); process.exit(1); });
