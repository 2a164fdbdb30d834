/**
 * The doctor's checks on synthetic host views, and the pure helpers behind
 * their fixes. No root, no processes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tableOf } from '../../src/commands/nics.js';
import { arpCapable, arpFluxNics, checkArpFlux, sysctlFileContent } from '../../src/doctor/checks/arp-flux.js';
import { checkDhcpClients } from '../../src/doctor/checks/dhcp-client.js';
import { checkDockerOverlap, cidrOverlap } from '../../src/doctor/checks/docker-overlap.js';
import { checkIfupdown } from '../../src/doctor/checks/ifupdown.js';
import { checkNetplan } from '../../src/doctor/checks/netplan.js';
import { nmDeviceSpec, nmFileContent, nmFileSpecs, splitSpecs } from '../../src/doctor/checks/networkmanager.js';
import { checkPrivileges } from '../../src/doctor/checks/privileges.js';
import { checkNetworkd, networkdFile } from '../../src/doctor/checks/systemd-networkd.js';
import type { HostView } from '../../src/doctor/types.js';
import type { NicDetail } from '../../src/host/inventory.js';
import type { ManagerClaim } from '../../src/host/managers.js';
import { defaultHostPaths, hostPaths } from '../../src/host/paths.js';
import { maxConf, persistedSysctls, slashKey, type SysctlReader } from '../../src/host/sysctl.js';

function nic(name: string, over: Partial<NicDetail> = {}): NicDetail {
  return {
    name,
    ifindex: 2,
    mac: '52:54:00:00:00:02',
    permanentMac: null,
    kind: 'physical',
    driver: 'virtio_net',
    bus: 'pci',
    parentDev: '0000:00:05.0',
    pci: '0000:00:05.0',
    state: 'up',
    up: true,
    mtu: 1500,
    addresses: [],
    role: 'secondary',
    primary: false,
    container: null,
    containerIfname: null,
    master: null,
    managedBy: [],
    arpIgnore: 0,
    arpAnnounce: 0,
    rpFilter: 0,
    linkType: 'ether',
    noArp: false,
    parent: null,
    claims: [],
    ...over,
  };
}

const claim = (c: Partial<ManagerClaim> & Pick<ManagerClaim, 'manager'>): ManagerClaim => ({ active: true, atBoot: false, detail: `${c.manager}: x`, ...c });

function view(nics: NicDetail[], root: string, values: Record<string, string> = {}): HostView {
  const sysctl: SysctlReader = { get: async (keys) => new Map(keys.filter((k) => k in values).map((k) => [k, values[k]!])) };
  return { paths: defaultHostPaths({ HOSTNIC_CONFIG_ROOT: root }), sysctl, nics, candidates: nics.filter((n) => n.role === 'secondary'), skippedPrimary: [] };
}

describe('privileges', () => {
  it('needs root, CAP_NET_ADMIN and CAP_SYS_ADMIN', () => {
    expect(checkPrivileges('Name:\tx\nCapEff:\t000001ffffffffff\n', 0).verdict).toBe('ok');
    const noSys = checkPrivileges('CapEff:\t0000000000001000\n', 0);
    expect(noSys.verdict).toBe('fail');
    expect(noSys.title).toBe('Missing: CAP_SYS_ADMIN');
    expect(checkPrivileges('CapEff:\t0000000000000000\n', 1000).title).toBe('Missing: root, CAP_NET_ADMIN, CAP_SYS_ADMIN');
  });
});

describe('sysctl helpers', () => {
  it('effective value is max(all, iface)', () => {
    expect(maxConf('0', '2')).toBe(2);
    expect(maxConf('1', '0')).toBe(1);
    expect(maxConf(undefined, '1')).toBe(1);
    expect(maxConf(undefined, undefined)).toBeNull();
  });
  it('slash keys', () => {
    expect(slashKey('net.ipv4.conf.all.arp_ignore')).toBe('net/ipv4/conf/all/arp_ignore');
    expect(slashKey('net/ipv4/conf/eth1.5/arp_ignore')).toBe('net/ipv4/conf/eth1.5/arp_ignore');
  });
  it('hostnic file keeps keys it does not own', () => {
    const text = sysctlFileContent('# old\nnet.ipv4.conf.all.arp_ignore = 0\nvm.swappiness = 10\n', { 'net/ipv4/conf/all/arp_ignore': '1' });
    expect(text).toContain('vm.swappiness = 10\n');
    expect(text).toContain('net.ipv4.conf.all.arp_ignore = 1\n');
    expect(text).not.toContain('arp_ignore = 0');
  });

  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('boot values: by file name across directories, /etc hides /usr/lib, sysctl.conf last', () => {
    const etc = join(dir, 'etc');
    const lib = join(dir, 'lib');
    mkdirSync(etc);
    mkdirSync(lib);
    writeFileSync(join(lib, '50-default.conf'), 'net.ipv4.conf.all.arp_ignore = 2\n');
    writeFileSync(join(etc, '50-default.conf'), '# hidden lib file\n');
    writeFileSync(join(lib, '10-a.conf'), 'net/ipv4/conf/all/arp_announce=1\n');
    writeFileSync(join(etc, '90-hostnic.conf'), 'net.ipv4.conf.all.arp_announce = 2\n');
    writeFileSync(join(dir, 'sysctl.conf'), '-net.ipv4.conf.all.rp_filter = 1\n');
    const m = persistedSysctls([etc, lib], join(dir, 'sysctl.conf'));
    expect(m.has('net/ipv4/conf/all/arp_ignore')).toBe(false);
    expect(m.get('net/ipv4/conf/all/arp_announce')).toMatchObject({ value: '2', file: join(etc, '90-hostnic.conf'), line: 1 });
    expect(m.get('net/ipv4/conf/all/rp_filter')?.value).toBe('1');
  });
});

describe('ARP flux', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('counts NICs that do ARP and are not ports or container-only bridges', () => {
    const nics = [
      nic('eth0'),
      nic('ifb0', { noArp: true, kind: 'ifb' }),
      nic('docker0', { kind: 'bridge' }),
      nic('veth1a2b', { kind: 'veth', master: 'docker0' }),
      nic('br0', { kind: 'bridge' }),
      nic('eth1', { master: 'br0' }),
    ];
    expect(arpCapable(nics).map((n) => n.name)).toEqual(['eth0', 'br0']);
  });

  it('`hostnic nics` marks the NICs doctor reports, and not a bridge of containers (docker0)', async () => {
    const nics = [
      nic('eth0', { role: 'primary' }),
      nic('eth1'),
      nic('docker0', { kind: 'bridge' }),
      nic('veth1a2b', { kind: 'veth', master: 'docker0' }),
      nic('eth2', { arpIgnore: 1, arpAnnounce: 2 }),
    ];
    expect(arpFluxNics(nics).map((n) => n.name)).toEqual(['eth0', 'eth1']);
    const c = await checkArpFlux(view(nics, dir));
    expect(c).toMatchObject({ verdict: 'fail', nics: ['eth0', 'eth1'] });
    const { header, warn } = tableOf(nics);
    const arpCol = header.indexOf('ARP IGN/ANN');
    expect(nics.filter((_, i) => warn[i]![arpCol]).map((n) => n.name)).toEqual(c.nics);
    // One NIC that does ARP (docker0 does not count): nothing to mark, nothing to report.
    const one = [nic('eth0', { role: 'primary' }), nics[2]!, nics[3]!];
    expect(arpFluxNics(one)).toEqual([]);
    expect(tableOf(one).notes).toEqual([]);
    expect((await checkArpFlux(view(one, dir))).verdict).toBe('ok');
  });

  it('fails with both sysctls and the boot file; nothing to do when right now and at boot', async () => {
    const v = view([nic('eth0', { role: 'primary' }), nic('eth1')], dir, { 'net/ipv4/conf/all/arp_ignore': '0', 'net/ipv4/conf/all/arp_announce': '0' });
    const c = await checkArpFlux(v);
    expect(c.verdict).toBe('fail');
    expect(c.fix!.steps.map((s) => s.kind)).toEqual(['sysctl.set', 'sysctl.set', 'file.write']);
    expect(c.fix!.steps[0]!.params).toEqual({ ns: null, key: 'net/ipv4/conf/all/arp_ignore', value: '1' });
    const file = join(v.paths.sysctlConfDir, '90-hostnic.conf');
    mkdirSync(v.paths.sysctlConfDir, { recursive: true });
    writeFileSync(file, (c.fix!.steps[2]!.params as { content: string }).content);
    const ok = await checkArpFlux(view([nic('eth0', { arpIgnore: 1, arpAnnounce: 2 }), nic('eth1', { arpIgnore: 1, arpAnnounce: 2 })], dir, {
      'net/ipv4/conf/all/arp_ignore': '1',
      'net/ipv4/conf/all/arp_announce': '2',
    }));
    expect(ok.verdict).toBe('ok');
  });
});

describe('NetworkManager fix file', () => {
  it('matches a physical NIC by (permanent) MAC and a virtual one by name', () => {
    expect(nmDeviceSpec(nic('eth1'))).toBe('mac:52:54:00:00:00:02');
    expect(nmDeviceSpec(nic('eth1', { permanentMac: '52:54:00:aa:bb:cc', mac: '02:00:00:00:00:01' }))).toBe('mac:52:54:00:aa:bb:cc');
    expect(nmDeviceSpec(nic('nic1', { kind: 'veth' }))).toBe('interface-name:nic1');
  });
  it('appends to the admin list, with a * first when that list has only except: specs', () => {
    expect(nmFileContent(['mac:52:54:00:00:00:02'], [])).toContain('[keyfile]\nunmanaged-devices+=mac:52:54:00:00:00:02\n');
    expect(nmFileContent(['mac:a'], ['interface-name:docker0'])).toContain('unmanaged-devices+=mac:a\n');
    expect(nmFileContent(['mac:a', 'mac:b'], ['except:interface-name:eth0'])).toContain('unmanaged-devices+=*;mac:a;mac:b\n');
  });
  it('reads back its own specs; splits lists on , and ; with escapes', () => {
    expect(nmFileSpecs(nmFileContent(['mac:a', 'interface-name:x'], ['except:y']))).toEqual(['*', 'mac:a', 'interface-name:x']);
    expect(splitSpecs('a, b;c\\,d')).toEqual(['a', 'b', 'c,d']);
  });
});

describe('advice checks', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('systemd-networkd: fail when it manages now, a first-sorting Unmanaged=yes file as the fix', () => {
    const n = nic('eth1', { claims: [claim({ manager: 'systemd-networkd', atBoot: true, detail: 'systemd-networkd: /etc/systemd/network/50-dhcp.network matches' })] });
    const v = view([n], dir);
    const c = checkNetworkd(v);
    expect(c.verdict).toBe('fail');
    const f = networkdFile(n, v.paths.networkdConfDir);
    expect(f.path).toBe(join(v.paths.networkdConfDir, '00-hostnic-525400000002.network'));
    expect(f.content).toContain('[Match]\nMACAddress=52:54:00:00:00:02\n\n[Link]\nUnmanaged=yes\n');
    // networkd runs: it rereads the files on `networkctl reload`, before and after the write (so the undo ends with a reload too).
    expect(c.fix!.steps).toEqual([
      expect.objectContaining({ kind: 'networkd.reload', params: {} }),
      expect.objectContaining({ kind: 'file.write', params: { path: f.path, content: f.content, mode: '0644' } }),
      expect.objectContaining({ kind: 'networkd.reload', params: {} }),
    ]);
    expect(c.fix!.summary).toContain('then `networkctl reload`');
    expect(networkdFile(nic('nic1', { kind: 'veth' }), '/d').content).toContain('Name=nic1');
    // Not running (claimed at boot only): a warning, the file alone (networkd reads it when it starts).
    const boot = checkNetworkd(view([nic('eth1', { claims: [claim({ manager: 'systemd-networkd', active: false, atBoot: true })] })], dir));
    expect(boot.verdict).toBe('warn');
    expect(boot.fix!.steps.map((s) => s.kind)).toEqual(['file.write']);
    expect(boot.fix!.summary).toContain('(networkd reads them when it starts)');
  });

  it('ifupdown, DHCP client, netplan: warnings with exact text and no steps; primary NICs are not candidates', () => {
    const n = nic('eth1', {
      claims: [
        claim({ manager: 'ifupdown', active: false, atBoot: true, file: '/etc/network/interfaces', line: 7, detail: 'ifupdown: /etc/network/interfaces:7: auto eth1' }),
        claim({ manager: 'dhcp-client', pid: 4242, detail: 'dhclient (pid 4242): dhclient eth1' }),
        claim({ manager: 'netplan', active: false, atBoot: true, file: '/etc/netplan/50-cloud-init.yaml', line: 9, detail: 'netplan: 50-cloud-init.yaml:9: eth1:' }),
      ],
    });
    const v = view([n, nic('eth0', { role: 'primary', claims: [claim({ manager: 'dhcp-client', pid: 1 })] })], dir);
    const i = checkIfupdown(v);
    expect(i.verdict).toBe('warn');
    expect(i.fix!.summary).toContain('In /etc/network/interfaces line 7: remove eth1');
    expect(i.fix!.steps).toEqual([]);
    const d = checkDhcpClients(v);
    expect(d.verdict).toBe('warn');
    expect(d.nics).toEqual(['eth1']);
    expect(d.fix!.summary).toMatch(/^kill 4242 /);
    const p = checkNetplan(v);
    expect(p.fix!.summary).toContain('In /etc/netplan/50-cloud-init.yaml line 9');
  });

  it('Docker overlap: CIDR math and bridges skipped', () => {
    expect(cidrOverlap('172.17.5.4/24', '172.17.0.0/16')).toBe(true);
    expect(cidrOverlap('172.18.0.4/24', '172.17.0.0/16')).toBe(false);
    expect(cidrOverlap('10.0.0.0/8', '10.1.2.0/24')).toBe(true);
    expect(cidrOverlap('fd00::1/64', '172.17.0.0/16')).toBe(false);
    const v = view([nic('docker0', { kind: 'bridge', addresses: ['172.17.0.1/16'] }), nic('eth1', { addresses: ['172.17.9.9/24'] })], dir);
    const nets = [{ name: 'bridge', id: 'abc', driver: 'bridge', subnets: ['172.17.0.0/16'], bridge: 'docker0' }];
    const c = checkDockerOverlap(v, nets)!;
    expect(c.verdict).toBe('warn');
    expect(c.nics).toEqual(['eth1']);
    expect(checkDockerOverlap(v, null)).toBeNull();
  });
});

describe('paths', () => {
  it('HOSTNIC_CONFIG_ROOT prefixes configuration, not /proc or the Docker socket; single paths override', () => {
    const p = defaultHostPaths({ HOSTNIC_CONFIG_ROOT: '/tmp/r' });
    expect(p.nmConfDir).toBe('/tmp/r/etc/NetworkManager/conf.d');
    expect(p.sysctlConfDir).toBe('/tmp/r/etc/sysctl.d');
    expect(p.proc).toBe('/proc');
    expect(p.dockerSocket).toBe('/var/run/docker.sock');
    expect(hostPaths({ nmConfDir: '/x' }, {}).nmConfDir).toBe('/x');
    expect(hostPaths({}, {}).nmConfDir).toBe('/etc/NetworkManager/conf.d');
  });
});
