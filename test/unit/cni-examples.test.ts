/** The example configurations and manifests in examples/cni are valid and carry the fields the plugin reads. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/cni/protocol.js';

const dir = join(import.meta.dirname, '..', '..', 'examples', 'cni');
const json = (f: string): any => JSON.parse(readFileSync(join(dir, f), 'utf8'));

/** A conflist's hostnic plugin as the runtime hands it to the plugin: the list's cniVersion and name, the plugin's keys. */
function pluginConf(list: any): ReturnType<typeof parseConfig> {
  const p = list.plugins.find((x: { type: string }) => x.type === 'hostnic');
  expect(p).toBeDefined();
  return parseConfig(JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...p }), 'ADD');
}

describe('examples/cni', () => {
  it('containerd.conflist: hostnic by device, static IPAM', () => {
    const c = pluginConf(json('containerd.conflist'));
    expect(c.nic).toEqual({ kind: 'name', name: 'eth1' });
    expect(c.ipam?.type).toBe('static');
  });
  it('podman.conflist: 0.4.0, by hwaddr, with an MTU, host-local IPAM', () => {
    const c = pluginConf(json('podman.conflist'));
    expect(c).toMatchObject({ cniVersion: '0.4.0', nic: { kind: 'mac', mac: '52:54:00:12:34:56' }, mtu: 9000 });
    expect(c.ipam?.type).toBe('host-local');
  });
  it('multus.json: a DaemonSet that installs node and the bundle as /opt/cni/bin/hostnic, and a NetworkAttachmentDefinition', () => {
    const list = json('multus.json');
    const ds = list.items.find((i: any) => i.kind === 'DaemonSet');
    const install = ds.spec.template.spec.initContainers[0];
    expect(install.command.join(' ')).toContain('/host/opt/cni/bin/hostnic');
    expect(install.command.join(' ')).toContain('exec /opt/hostnic/node /opt/hostnic/bin/hostnic');
    const files = ds.spec.template.spec.volumes[0].configMap.items.map((i: { path: string }) => i.path);
    expect(files).toEqual(expect.arrayContaining(['bin/hostnic', 'dist/hostnic.js', 'dist/package.json', 'bin/package.json']));
    const nad = list.items.find((i: any) => i.kind === 'NetworkAttachmentDefinition');
    const c = parseConfig(nad.spec.config, 'ADD');
    expect(c).toMatchObject({ type: 'hostnic', name: nad.metadata.name, nic: { kind: 'name', name: 'eth1' } });
  });
});
