/**
 * Manager detection from files and a fake procfs (no daemons asked).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { globMatch } from '../../src/host/glob.js';
import { overlayFiles } from '../../src/host/overlay.js';
import { detectManagers, managerNames, type NicIdentity } from '../../src/host/managers.js';
import { networkFileFor, networkFileMatches, networkFiles, parseNetworkFile } from '../../src/host/managers/networkd.js';
import { nmStateManages, parseNmcliStatus, splitTerse } from '../../src/host/managers/networkmanager.js';
import { defaultHostPaths, type HostPaths } from '../../src/host/paths.js';

const eth1: NicIdentity = { name: 'eth1', mac: '52:54:00:12:34:56', permanentMac: null, kind: 'physical', driver: 'virtio_net', pci: '0000:00:05.0', linkType: 'ether' };
const veth: NicIdentity = { name: 'nic7', mac: '0a:00:00:00:00:07', permanentMac: null, kind: 'veth', driver: null, pci: null, linkType: 'ether' };

describe('nmcli terse output', () => {
  it('splits on unescaped colons', () => {
    expect(splitTerse('eth1:connected:Wired connection 1')).toEqual(['eth1', 'connected', 'Wired connection 1']);
    expect(splitTerse('eth1:connected:a\\:b\\\\c')).toEqual(['eth1', 'connected', 'a:b\\c']);
    expect(splitTerse('lo:unmanaged:')).toEqual(['lo', 'unmanaged', '']);
  });
  it('parses device status and tells which states mean "managed"', () => {
    const devs = parseNmcliStatus('eth0:connected:Wired connection 1\ndocker0:connected (externally):docker0\neth2:unmanaged:\n\n');
    expect(devs).toEqual([
      { device: 'eth0', state: 'connected', connection: 'Wired connection 1' },
      { device: 'docker0', state: 'connected (externally)', connection: 'docker0' },
      { device: 'eth2', state: 'unmanaged', connection: '' },
    ]);
    expect(devs.map((d) => nmStateManages(d.state))).toEqual([true, false, false]);
    for (const s of ['connecting (getting IP configuration)', 'disconnected', 'unavailable']) expect(nmStateManages(s)).toBe(true);
  });
});

describe('globs', () => {
  it('answer as glibc fnmatch(pattern, name, 0) does (values read from it)', () => {
    const cases: [string, string, boolean][] = [
      ["en*", "ens5", true],
      ["en*", "eth0", false],
      ["eth?", "eth1", true],
      ["eth?", "eth10", false],
      ["eth[0-2]", "eth3", false],
      ["eth[!0]", "eth1", true],
      ["eth[!0]", "eth0", false],
      ["eth[^0]", "eth1", true],
      ["a.b", "axb", false],
      ["a.b", "a.b", true],
      ["eth[[:digit:]]", "eth5", true],
      ["eth[[:digit:]]", "ethx", false],
      ["\\*", "*", true],
      ["\\*", "x", false],
      ["eth\\?", "eth?", true],
      ["eth\\?", "eth1", false],
      ["a{b,c}", "ab", false],
      ["a{b,c}", "a{b,c}", true],
      ["!eth0", "eth1", false],
      ["!eth0", "!eth0", true],
      ["@(a|b)", "a", false],
      ["+(a)", "aa", false],
      ["pci-*", "pci-0000:00:05.0", true],
      ["*", ".hidden", true],
      ["[]a]", "]", true],
      ["[]a]", "a", true],
      ["[!]a]", "b", true],
      ["[!]a]", "]", false],
      ["eth[", "eth[", true],
      ["eth[1", "eth[1", true],
      ["a(b", "a(b", true],
      ["a+b", "a+b", true],
      ["a$", "a$", true],
      ["*.network", "x.network", true],
      ["en[a-z]*", "enp0s3", true],
      ["veth*", "veth1a2b", true],
      ["e*1", "eth1", true],
      ["**", "abc", true],
      ["a[b-]", "a-", true],
      ["[a-c]x", "bx", true],
      ["[z-a]", "b", false],
      ["[\\]]", "]", true],
      ["[a\\-z]", "-", true],
      ["*[0-9]", "eth9", true],
      ["?", "\u00e9", true],
      ["eth1 ", "eth1", false],
    ];
    for (const [glob, name, want] of cases) expect([glob, name, globMatch(glob, name)]).toEqual([glob, name, want]);
  });
});

describe('systemd-networkd .network matching', () => {
  const f = (text: string) => parseNetworkFile('/x.network', text);
  it('evaluates Name, MACAddress, Type, Driver, Kind, Path and inversion', () => {
    expect(networkFileMatches(f('[Match]\nName=eth*\n'), eth1)).toBe(true);
    expect(networkFileMatches(f('[Match]\nName=!eth*\n'), eth1)).toBe(false);
    expect(networkFileMatches(f('[Match]\nName=en* eth1\n'), eth1)).toBe(true);
    expect(networkFileMatches(f('[Match]\nMACAddress=52:54:00:12:34:56\n'), eth1)).toBe(true);
    expect(networkFileMatches(f('[Match]\nMACAddress=52:54:00:12:34:57\n'), eth1)).toBe(false);
    expect(networkFileMatches(f('[Match]\nType=ether\nDriver=virtio*\n'), eth1)).toBe(true);
    expect(networkFileMatches(f('[Match]\nKind=veth\n'), eth1)).toBe(false);
    expect(networkFileMatches(f('[Match]\nKind=veth\n'), veth)).toBe(true);
    expect(networkFileMatches(f('[Match]\nPath=pci-0000:00:05.*\n'), eth1)).toBe(true);
    expect(networkFileMatches(f('[Match]\nName=eth1\nVirtualization=container\n'), eth1)).toBe(true);
    expect(networkFileMatches(f('[Network]\nDHCP=yes\n'), eth1)).toBe(true); // no [Match]: every link
    expect(networkFileMatches(f('[Match]\nName=eth0\nName=\nName=eth1\n'), eth1)).toBe(true); // empty resets
  });
  it('reads Unmanaged=yes', () => {
    expect(f('[Match]\nName=eth1\n[Link]\nUnmanaged=yes\n').unmanaged).toBe(true);
    expect(f('[Match]\nName=eth1\n[Link]\nMTUBytes=9000\n').unmanaged).toBe(false);
  });

  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('orders files by name across directories; earlier directories win; /dev/null masks', () => {
    const etc = join(dir, 'etc');
    const lib = join(dir, 'lib');
    mkdirSync(etc);
    mkdirSync(lib);
    writeFileSync(join(lib, '50-dhcp.network'), '[Match]\nName=eth*\n[Network]\nDHCP=yes\n');
    writeFileSync(join(lib, '80-all.network'), '[Match]\nName=*\n');
    writeFileSync(join(lib, '10-masked.network'), '[Match]\nName=eth1\n');
    symlinkSync('/dev/null', join(etc, '10-masked.network'));
    writeFileSync(join(etc, '00-hostnic-525400123456.network'), '[Match]\nMACAddress=52:54:00:12:34:56\n[Link]\nUnmanaged=yes\n');
    const files = networkFiles([etc, lib]);
    expect(files.map((x) => x.path)).toEqual([join(etc, '00-hostnic-525400123456.network'), join(lib, '50-dhcp.network'), join(lib, '80-all.network')]);
    expect(networkFileFor(files, eth1)?.unmanaged).toBe(true);
    expect(networkFileFor(files, veth)?.path).toBe(join(lib, '80-all.network'));
  });
});

describe('overlaid configuration directories', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('by file name across directories, the first directory hiding the others; /dev/null or empty masks; other suffixes ignored', () => {
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(b, '20-x.conf'), 'x=1\n');
    writeFileSync(join(a, '20-x.conf'), 'x=2\n');
    writeFileSync(join(b, '10-y.conf'), 'y=1\n');
    writeFileSync(join(b, '30-masked.conf'), 'z=1\n');
    symlinkSync('/dev/null', join(a, '30-masked.conf'));
    writeFileSync(join(b, '40-empty.conf'), 'w=1\n');
    writeFileSync(join(a, '40-empty.conf'), '');
    writeFileSync(join(a, '50-other.yaml'), 'v: 1\n');
    expect(overlayFiles([a, join(dir, 'missing'), b], '.conf')).toEqual([join(b, '10-y.conf'), join(a, '20-x.conf')]);
  });

  it('netplan: /run shadows /etc, which shadows /lib (netplan-generate(8))', async () => {
    // An empty /proc of its own: a NetworkManager running on this machine (an e2e suite's) must not count.
    const paths = { ...defaultHostPaths({ HOSTNIC_CONFIG_ROOT: dir }), proc: join(dir, 'proc') };
    mkdirSync(paths.proc, { recursive: true });
    expect(paths.netplanDirs).toEqual(['/run/netplan', '/etc/netplan', '/lib/netplan'].map((d) => join(dir, d)));
    const [run, etc] = paths.netplanDirs as [string, string];
    mkdirSync(run, { recursive: true });
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, '50-cloud-init.yaml'), 'network:\n  ethernets:\n    eth1:\n      dhcp4: true\n');
    writeFileSync(join(run, '50-cloud-init.yaml'), 'network:\n  ethernets:\n    eth9:\n      dhcp4: true\n');
    expect((await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')).toEqual([]);
    rmSync(join(run, '50-cloud-init.yaml'));
    expect((await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')![0]).toMatchObject({ manager: 'netplan', file: join(etc, '50-cloud-init.yaml') });
  });
});

describe('detectManagers from files and a fake /proc', () => {
  let dir: string;
  let paths: HostPaths;
  const put = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  const proc = (pid: number, argv: string[], comm?: string) => {
    put(join(paths.proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
    put(join(paths.proc, String(pid), 'comm'), `${comm ?? argv[0]!.split('/').pop()}\n`);
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
    paths = { ...defaultHostPaths({ HOSTNIC_CONFIG_ROOT: dir }), proc: join(dir, 'proc') };
    mkdirSync(paths.proc, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing on a clean host', async () => {
    const m = await detectManagers([eth1], { paths, askDaemons: false });
    expect(m.get('eth1')).toEqual([]);
  });

  it('ifupdown: auto/allow-hotplug act at boot, a bare iface stanza does not', async () => {
    put(paths.ifupdownFile, 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n');
    put(join(paths.ifupdownDir, 'eth1'), '# cloud NIC\nallow-hotplug eth1\niface eth1 inet dhcp\n');
    put(join(paths.ifupdownDir, 'nic7.dpkg-old'), 'auto nic7\n');
    put(join(paths.ifupdownDir, 'nic7'), 'iface nic7 inet manual\n');
    const m = await detectManagers([eth1, veth], { paths, askDaemons: false });
    const c = m.get('eth1')!;
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ manager: 'ifupdown', atBoot: true, active: false, file: join(paths.ifupdownDir, 'eth1'), line: 2 });
    expect(c[0]!.detail).toContain('allow-hotplug eth1');
    expect(m.get('nic7')![0]).toMatchObject({ manager: 'ifupdown', atBoot: false });
    expect(managerNames(m.get('nic7')!)).toEqual([]);
    // ifupdown's run state says it is up.
    put(join(paths.ifupdownRunDir, 'ifstate.eth1'), 'eth1\n');
    expect((await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')![0]!.active).toBe(true);
  });

  it('DHCP clients: by interface argument; a dhcpcd without one serves all', async () => {
    proc(101, ['/sbin/dhclient', '-4', '-v', '-i', '-pf', '/run/dhclient.eth1.pid', '-lf', '/var/lib/dhcp/dhclient.eth1.leases', 'eth1']);
    proc(102, ['udhcpc', '-i', 'eth9']);
    proc(103, ['sleep', 'eth1']);
    let m = await detectManagers([eth1, veth], { paths, askDaemons: false });
    expect(m.get('eth1')!.map((c) => [c.manager, c.pid])).toEqual([['dhcp-client', 101]]);
    expect(m.get('nic7')).toEqual([]);
    proc(104, ['dhcpcd: [manager] [ip4] [ip6]'], 'dhcpcd');
    m = await detectManagers([eth1, veth], { paths, askDaemons: false });
    expect(m.get('nic7')!.map((c) => [c.manager, c.pid])).toEqual([['dhcp-client', 104]]);
    expect(m.get('nic7')![0]!.detail).toContain('all interfaces');
  });

  it('systemd-networkd: a matching file, not running: claimed at boot only when networkd is enabled', async () => {
    put(join(paths.networkdDirs[0]!, '50-cloud.network'), '[Match]\nName=eth*\n[Network]\nDHCP=yes\n');
    let c = (await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')!;
    expect(c[0]).toMatchObject({ manager: 'systemd-networkd', active: false, atBoot: false });
    expect(managerNames(c)).toEqual([]);
    mkdirSync(join(paths.systemdSystemDir, 'multi-user.target.wants'), { recursive: true });
    writeFileSync(join(paths.systemdSystemDir, 'multi-user.target.wants', 'systemd-networkd.service'), '');
    c = (await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')!;
    expect(c[0]).toMatchObject({ manager: 'systemd-networkd', active: false, atBoot: true });
    // Running (a process in the namespace): active.
    proc(200, ['/lib/systemd/systemd-networkd'], 'systemd-network');
    c = (await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')!;
    expect(c[0]).toMatchObject({ active: true });
    // hostnic's own file sorts first and says Unmanaged=yes: no claim.
    put(join(paths.networkdDirs[0]!, '00-hostnic-525400123456.network'), '[Match]\nMACAddress=52:54:00:12:34:56\n[Link]\nUnmanaged=yes\n');
    expect((await detectManagers([eth1], { paths, askDaemons: false })).get('eth1')).toEqual([]);
  });

  it('netplan: by name key, set-name, MAC or name glob', async () => {
    put(join(paths.netplanDirs[0]!, '50-cloud-init.yaml'), [
      'network:',
      '  version: 2',
      '  ethernets:',
      '    eth0:',
      '      dhcp4: true',
      '    secondary:',
      '      match:',
      '        macaddress: "52:54:00:12:34:56"',
      '      set-name: ethX',
      '      dhcp4: true',
      '',
    ].join('\n'));
    const m = await detectManagers([eth1, { ...veth, name: 'eth0' }], { paths, askDaemons: false });
    expect(m.get('eth1')![0]).toMatchObject({ manager: 'netplan', atBoot: true, line: 8 });
    expect(m.get('eth0')![0]).toMatchObject({ manager: 'netplan', line: 4 });
    put(join(paths.netplanDirs[0]!, '60-glob.yaml'), 'network:\n  ethernets:\n    all:\n      match:\n        name: "nic*"\n');
    expect((await detectManagers([veth], { paths, askDaemons: false })).get('nic7')![0]).toMatchObject({ manager: 'netplan', line: 5 });
  });
});
