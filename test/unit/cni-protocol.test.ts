/** The CNI protocol module (src/cni/protocol.ts): environment, configuration, versions, errors, results. */
import { describe, expect, it } from 'vitest';
import { addResult, CniError, CODE, errorDoc, ipamWords, parseConfig, parseEnv, versionDoc, type CniCommand } from '../../src/cni/protocol.js';

const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/var/run/netns/cni-1', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' };

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return (e as CniError).code;
  }
  throw new Error('did not throw');
}

const conf = (extra: Record<string, unknown> = {}, version = '1.0.0'): string =>
  JSON.stringify({ cniVersion: version, name: 'net', type: 'hostnic', device: 'eth1', ...extra });

describe('parseEnv', () => {
  it('reads what each command needs', () => {
    expect(parseEnv(ENV)).toEqual({ command: 'ADD', containerId: 'c0ffee', netns: '/var/run/netns/cni-1', ifname: 'net1', path: ['/opt/cni/bin', '/usr/lib/cni'] });
    // DEL may come after the namespace is gone.
    expect(parseEnv({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBe('');
    expect(parseEnv({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
    expect(parseEnv({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }).path).toEqual(['/opt/cni/bin']);
    expect(parseEnv({ CNI_COMMAND: 'STATUS' }).command).toBe('STATUS');
  });
  it.each<[string, Record<string, string>]>([
    ['unknown command', { ...ENV, CNI_COMMAND: 'PUT' }],
    ['no container id', { ...ENV, CNI_CONTAINERID: '' }],
    ['bad container id', { ...ENV, CNI_CONTAINERID: '-x y' }],
    ['ADD without netns', { ...ENV, CNI_NETNS: '' }],
    ['relative netns', { ...ENV, CNI_NETNS: 'netns/x' }],
    ['no ifname', { ...ENV, CNI_IFNAME: '' }],
    ['bad ifname', { ...ENV, CNI_IFNAME: 'a/b' }],
    ['too long ifname', { ...ENV, CNI_IFNAME: 'x'.repeat(16) }],
  ])('%s is code 4', (_what, env) => {
    expect(code(() => parseEnv(env))).toBe(CODE.invalidEnv);
  });
});

describe('parseConfig', () => {
  it('host-device keys keep their meaning; hostnic adds mtu, mac and runtimeConfig.mac', () => {
    expect(parseConfig(conf(), 'ADD').nic).toEqual({ kind: 'name', name: 'eth1' });
    expect(parseConfig(conf({ device: undefined, hwaddr: '52:54:00:AA:BB:CC' }), 'ADD').nic).toEqual({ kind: 'mac', mac: '52:54:00:aa:bb:cc' });
    expect(parseConfig(conf({ device: undefined, pciBusID: '00:05.0' }), 'ADD').nic).toEqual({ kind: 'pci', address: '0000:00:05.0' });
    expect(parseConfig(conf({ device: undefined, kernelpath: '/sys/devices/pci0000:00/0000:00:05.0' }), 'ADD').nic)
      .toEqual({ kind: 'kernelpath', path: '/sys/devices/pci0000:00/0000:00:05.0' });
    const c = parseConfig(conf({ mtu: 9000, mac: '02:00:00:00:00:01', runtimeConfig: { mac: '02:00:00:00:00:02' } }), 'ADD');
    expect(c.mtu).toBe(9000);
    expect(c.mac).toBe('02:00:00:00:00:02');
    expect(parseConfig(conf({ mac: '02:00:00:00:00:01' }), 'ADD').mac).toBe('02:00:00:00:00:01');
  });
  it('accepts 0.4.0, 1.0.0 and 1.1.0; refuses others with code 1', () => {
    for (const v of ['0.4.0', '1.0.0', '1.1.0']) expect(parseConfig(conf({}, v), 'ADD').cniVersion).toBe(v);
    expect(code(() => parseConfig(conf({}, '0.3.1'), 'ADD'))).toBe(CODE.incompatibleVersion);
    expect(code(() => parseConfig(conf({}, '2.0.0'), 'ADD'))).toBe(CODE.incompatibleVersion);
    expect(code(() => parseConfig(conf({}, '1.0.0'), 'GC'))).toBe(CODE.incompatibleVersion);
    expect(code(() => parseConfig(conf({}, '1.0.0'), 'STATUS'))).toBe(CODE.incompatibleVersion);
  });
  it('not JSON, or not an object, is code 6', () => {
    expect(code(() => parseConfig('{', 'ADD'))).toBe(CODE.decode);
    expect(code(() => parseConfig('[]', 'ADD'))).toBe(CODE.decode);
    expect(code(() => parseConfig(conf({ prevResult: 3 }), 'ADD'))).toBe(CODE.decode);
  });
  it.each<[string, Record<string, unknown>, CniCommand?]>([
    ['no NIC', { device: undefined }],
    ['two NICs', { hwaddr: '52:54:00:aa:bb:cc' }],
    ['a bad device name', { device: 'a b' }],
    ['a bad hwaddr', { device: undefined, hwaddr: 'zz' }],
    ['a bad pciBusID', { device: undefined, pciBusID: '1.2' }],
    ['a kernelpath outside /sys', { device: undefined, kernelpath: '/etc' }],
    ['a fractional mtu', { mtu: 1500.5 }],
    ['a multicast mac', { mac: '01:00:5e:00:00:01' }],
    ['an ipam without type', { ipam: { subnet: '10.0.0.0/24' } }],
    ['an ipam type that is a path', { ipam: { type: '../static' } }],
    ['no name', { name: '' }],
    ['a bad valid-attachments list', { 'cni.dev/valid-attachments': [{ containerID: 1 }] }, 'GC'],
  ])('%s is code 7', (_what, extra, command = 'ADD') => {
    expect(code(() => parseConfig(conf(extra, command === 'GC' ? '1.1.0' : '1.0.0'), command))).toBe(CODE.invalidConfig);
  });
  it('GC reads cni.dev/valid-attachments and needs no NIC', () => {
    const c = parseConfig(JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'hostnic', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }), 'GC');
    expect(c.validAttachments).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
    expect(c.nic).toBeUndefined();
  });
  it('an empty ipam section is no IPAM', () => {
    expect(parseConfig(conf({ ipam: {} }), 'ADD').ipam).toBeUndefined();
  });
});

describe('IPAM results in hostnic words', () => {
  it('1.0.0: the default route becomes the gateway of the first address of its family; a route without gw goes via the gateway', () => {
    expect(ipamWords({
      ips: [{ address: '192.168.1.10/24', gateway: '192.168.1.1' }, { address: '192.168.1.11/24' }, { address: 'fd00:1::10/64' }],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '10.8.0.0/16' }, { dst: '::/0', gw: 'fd00:1::1' }, { dst: '2001:db8::/32' }],
    })).toEqual({
      addresses: ['192.168.1.10/24@192.168.1.1', '192.168.1.11/24', 'fd00:1::10/64@fd00:1::1'],
      routes: ['10.8.0.0/16@192.168.1.1', '2001:db8::/32'],
    });
  });
  it('0.4.0 (ips with version) reads the same; no routes means no gateway', () => {
    expect(ipamWords({ ips: [{ version: '4', address: '10.0.0.2/24', gateway: '10.0.0.1' }] })).toEqual({ addresses: ['10.0.0.2/24'], routes: [] });
  });
  it('a malformed result is code 104', () => {
    expect(code(() => ipamWords({ ips: [{}] } as never))).toBe(CODE.ipam);
    expect(code(() => ipamWords({ routes: 'x' } as never))).toBe(CODE.ipam);
  });
});

describe('results and documents', () => {
  const nic = { ifname: 'net1', mac: '52:54:00:aa:bb:cc', mtu: 1500, sandbox: '/var/run/netns/cni-1', pciID: '0000:00:05.0' };
  const ipam = { ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }], dns: { nameservers: ['10.0.0.1'] } };
  it('1.0.0: interface with sandbox, IPs pointing at it, routes, DNS', () => {
    expect(addResult('1.0.0', nic, ipam, undefined)).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'net1', mac: '52:54:00:aa:bb:cc', sandbox: '/var/run/netns/cni-1' }],
      ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
      dns: { nameservers: ['10.0.0.1'] },
    });
  });
  it('0.4.0 names the IP version; 1.1.0 adds mtu and pciID', () => {
    expect(addResult('0.4.0', nic, ipam, undefined).ips).toEqual([{ version: '4', address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 }]);
    expect(addResult('1.1.0', nic, undefined, undefined).interfaces)
      .toEqual([{ name: 'net1', mac: '52:54:00:aa:bb:cc', sandbox: '/var/run/netns/cni-1', mtu: 1500, pciID: '0000:00:05.0' }]);
  });
  it('in a conflist: the previous result first, this interface after it', () => {
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '172.16.0.2/16', interface: 0 }], routes: [{ dst: '172.17.0.0/16' }], dns: { domain: 'x' } };
    const r = addResult('1.0.0', nic, { ips: [{ address: '10.0.0.2/24' }] }, prev);
    expect(r.interfaces!.map((i) => i.name)).toEqual(['eth0', 'net1']);
    expect(r.ips).toEqual([{ address: '172.16.0.2/16', interface: 0 }, { address: '10.0.0.2/24', interface: 1 }]);
    expect(r.routes).toEqual([{ dst: '172.17.0.0/16' }]);
    expect(r.dns).toEqual({ domain: 'x' });
  });
  it('the error and VERSION documents', () => {
    expect(JSON.parse(errorDoc(new CniError(11, 'busy', 'later'), '0.4.0'))).toEqual({ cniVersion: '0.4.0', code: 11, msg: 'busy', details: 'later' });
    expect(JSON.parse(versionDoc())).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
  });
});
