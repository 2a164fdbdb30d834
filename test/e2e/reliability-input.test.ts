/**
 * Bad input through the real CLI, in a lab: every case exits 2 with one
 * `hostnic: ...` line on stderr (and at most one `hint: ...` line), nothing on
 * stdout, and changes nothing (snapshots of the host and the container, no
 * journal, no record). Beyond the cases of test/e2e/attach.test.ts; the
 * parsers' own unit tests are in test/unit/spec.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable } from '../helpers/hostnic.js';
import { attachmentFiles, expectOneError, journalFiles } from './reliability-helpers.js';

const root = requireRoot();

describe.skipIf(!root)('bad input, table-driven: exit 2, one line, nothing changed', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;

  beforeAll(async () => {
    lab = await createLab();
    nic = await lab.addNic({ mac: '52:54:00:12:34:56', addrs: ['10.50.0.9/24'] });
    ctr = await lab.addContainer();
    // An interface the container already has, for the name clash.
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'add', 'dup0', 'type', 'veth', 'peer', 'name', 'dup0p']);
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
  });
  afterAll(async () => { await lab?.destroy(); });

  it('rejects every case', async () => {
    const P = `pid:${ctr.pid}`;
    const A = (...rest: string[]): string[] => ['attach', P, nic, ...rest];
    const V4 = '192.168.1.4/24';
    const cases: [string, string[], RegExp][] = [
      // Addresses and prefixes
      ['empty gateway', A('192.168.1.4/24@'), /empty gateway after "@"/],
      ['two @', A('192.168.1.4/24@192.168.1.1@192.168.1.2'), /more than one "@"/],
      ['two /', A('192.168.1.4/24/8'), /more than one "\/"/],
      ['no address before /', A('/24'), /missing the address before "\/"/],
      ['network address', A('192.168.1.0/24'), /192\.168\.1\.0 is the network address of 192\.168\.1\.0\/24/],
      ['broadcast address', A('192.168.1.255/24'), /192\.168\.1\.255 is the broadcast address/],
      ['loopback', A('127.0.0.2/8'), /127\.0\.0\.2 is a loopback address/],
      ['multicast address', A('224.0.0.5/24'), /224\.0\.0\.5 is a multicast address/],
      ['IPv6 link-local', A('fe80::4/64'), /fe80::4 is an IPv6 link-local address/],
      ['IPv6 prefix too long', A('fd00:1::4/129'), /prefix \/129 is out of range for IPv6/],
      ['IPv6 without prefix', A('fd00:1::4'), /fd00:1::4": missing \/prefix/],
      ['IPv6 loopback', A('::1/128'), /::1 is the loopback address/],
      ['unspecified', A('0.0.0.0/8'), /0\.0\.0\.0 is the unspecified address/],
      ['not an address', A('banana'), /"banana": not an IPv4 or IPv6 address/],
      ['five octets', A('1.2.3.4.5/24'), /"1\.2\.3\.4\.5\/24": not an IPv4 or IPv6 address/],
      ['empty address', A(''), /invalid address "": empty value/],
      ['negative prefix', A('192.168.1.4/-1'), /prefix "-1" is not a number/],
      ['prefix with junk', A('192.168.1.4/24x'), /prefix "24x" is not a number/],
      ['one address, two prefixes', A(V4, '192.168.1.4/16'), /address 192\.168\.1\.4 is given twice/],
      // Gateways
      ['gateway is the address', A('192.168.1.4/24@192.168.1.4'), /gateway 192\.168\.1\.4 is the address 192\.168\.1\.4\/24 itself/],
      ['gateway is the broadcast', A('192.168.1.4/24@192.168.1.255'), /gateway 192\.168\.1\.255 is the broadcast address/],
      ['two IPv4 gateways', A('192.168.1.4/24@192.168.1.1', '192.168.1.5/24@192.168.1.1'), /two IPv4 gateways/],
      ['two IPv6 gateways', A('fd00:1::4/64@fd00:1::1', 'fd00:1::5/64@fd00:1::1'), /two IPv6 gateways/],
      ['IPv6 gateway is the address', A('fd00:1::4/64@fd00:1::4'), /gateway fd00:1::4 is the address fd00:1::4\/64 itself/],
      ['gateway outside (other subnet)', A('192.168.1.4/24@192.168.2.1'), /gateway 192\.168\.2\.1 is outside 192\.168\.1\.4\/24/],
      // MACs
      ['broadcast MAC', A(V4, '--mac', 'ff:ff:ff:ff:ff:ff'), /MAC ff:ff:ff:ff:ff:ff is the broadcast address/],
      ['five-octet MAC', A(V4, '--mac', '52:54:00:12:34'), /invalid MAC "52:54:00:12:34"/],
      ['empty MAC', A(V4, '--mac', ''), /invalid MAC "": empty value/],
      ['--mac with no value', A(V4, '--mac'), /invalid MAC "": empty value/],
      ['multicast MAC (odd first octet)', A(V4, '--mac', '03:00:00:00:00:01'), /MAC 03:00:00:00:00:01 is a multicast address/],
      ['--mac twice', A(V4, '--mac', '02:00:00:00:00:01', '--mac', '02:00:00:00:00:02'), /^hostnic: --mac is given 2 times \(02:00:00:00:00:01, 02:00:00:00:00:02\): give it once$/],
      // MTUs
      ['--mtu with no value', A(V4, '--mtu'), /invalid MTU "": empty value/],
      ['negative MTU', A(V4, '--mtu', '-5'), /invalid MTU "-5"/],
      ['MTU in exponent form', A(V4, '--mtu', '1.5e3'), /invalid MTU "1\.5e3": not a whole number/],
      ['MTU with a decimal point', A(V4, '--mtu', '1280.0'), /invalid MTU "1280\.0"/],
      ['MTU 0', A(V4, '--mtu', '0'), /invalid MTU "0": out of range \(68\.\.65535\)/],
      ['MTU 65536', A(V4, '--mtu', '65536'), /invalid MTU "65536": out of range/],
      ['huge MTU', A(V4, '--mtu', '100000000000000000000'), /out of range/],
      ['MTU below IPv6 minimum with IPv6', A('fd00:1::4/64', '--mtu', '1200'), /MTU 1200 is below IPv6's minimum of 1280/],
      ['--mtu twice', A(V4, '--mtu', '1400', '--mtu', '1500'), /^hostnic: --mtu is given 2 times \(1400, 1500\): give it once$/],
      // Names
      ['empty name', A(V4, '--name', ''), /invalid container-side name "": empty value/],
      ['--name with no value', A(V4, '--name'), /invalid container-side name "": empty value/],
      ['name with a space', A(V4, '--name', 'eth 1'), /contains whitespace/],
      ['name with a colon', A(V4, '--name', 'a:b'), /contains ":"/],
      ['reserved name "all"', A(V4, '--name', 'all'), /"all" is reserved/],
      ['shell metacharacters', A(V4, '--name', 'x;rm -rf /'), /invalid container-side name/],
      ['name taken in the container', A(V4, '--name', 'dup0'), new RegExp(`pid:${ctr.pid} already has an interface named dup0`)],
      ['--name twice', A(V4, '--name', 'eth5', '--name', 'eth6'), /^hostnic: --name is given 2 times \(eth5, eth6\): give it once$/],
      // Targets
      ['pid:0', ['attach', 'pid:0', nic, V4], /invalid target "pid:0": the PID must be a positive decimal integer/],
      ['pid:-1', ['attach', 'pid:-1', nic, V4], /invalid target "pid:-1"/],
      ['PID above the kernel limit', ['attach', 'pid:4194305', nic, V4], /above the kernel's limit/],
      ['pid:1x', ['attach', 'pid:1x', nic, V4], /invalid target "pid:1x"/],
      ['empty netns name', ['attach', 'netns:', nic, V4], /target "netns:" has an empty namespace name/],
      ['netns name with a slash', ['attach', 'netns:../etc', nic, V4], /cannot contain "\/"/],
      ['netns name with a space (the journal could not hold it)', ['attach', 'netns:a b', nic, V4], /invalid target "netns:a b": hostnic takes a namespace name of printable ASCII without spaces/],
      ['relative path', ['attach', 'relative/path', nic, V4], /must be absolute/],
      ['path not in normal form', ['attach', '/proc/1/../1/ns/net', nic, V4], /not in normal form/],
      ["hostnic's own namespace by path", ['attach', '/proc/self/ns/net', nic, V4], /own network namespace/],
      ['missing namespace file', ['attach', '/nonexistent/ns', nic, V4], /no such namespace file \/nonexistent\/ns/],
      ['empty target', ['attach', '', nic, V4], /^hostnic: target is empty$/],
      ['docker: without a name', ['attach', 'docker:', nic, V4], /target "docker:" has an empty container name/],
      ['podman: without a name', ['attach', 'podman:', nic, V4], /target "podman:" has an empty container name/],
      ['containerd: without an id', ['attach', 'containerd:', nic, V4], /target "containerd:" has an empty container id/],
      // NIC selectors
      ['mac: without a MAC', ['attach', P, 'mac:', V4], /NIC "mac:" has an empty MAC/],
      ['pci: without an address', ['attach', P, 'pci:', V4], /NIC "pci:" has an empty PCI address/],
      ['a bare MAC', ['attach', P, '52:54:00:12:34:56', V4], /that is a MAC address, not an interface name/],
      ['a bare PCI address', ['attach', P, '0000:00:05.0', V4], /that is a PCI address, not an interface name/],
      ['PCI device above 1f', ['attach', P, 'pci:0000:00:20.0', V4], /the device must be two hex digits, 00\.\.1f/],
      ['PCI address with an extra field', ['attach', P, 'pci:0000:00:05.0.1', V4], /invalid PCI address "0000:00:05\.0\.1"/],
      ['seven-octet MAC selector', ['attach', P, 'mac:52:54:00:12:34:56:78', V4], /invalid MAC "52:54:00:12:34:56:78"/],
      ['mac:zz', ['attach', P, 'mac:zz', V4], /invalid MAC "zz"/],
      ['alias-style name', ['attach', P, 'eth1:0', V4], /invalid NIC "eth1:0"/],
      ['loopback as the NIC', ['attach', P, 'lo', V4], /no NIC lo in the host namespace/],
      ['empty NIC', ['attach', P, '', V4], /^hostnic: NIC is empty$/],
      // Routes and option combinations
      ['--route without the NIC family (IPv6 route, IPv4 address)', A(V4, '--route', 'fd00:99::/64@fd00:1::1'), /is IPv6, but no IPv6 address is being attached/],
      ['--route without any address', A('--route', '10.0.0.0/8@192.168.1.1'), /is IPv4, but no IPv4 address is being attached/],
      ['--route default without via', A(V4, '--route', 'default'), /a default route needs @VIA/],
      ['--route with an empty next hop', A(V4, '--route', '10.0.0.0/8@'), /empty next hop after "@"/],
      ['--route duplicating the subnet route', A(V4, '--route', '192.168.1.0/24'), /duplicates the subnet route of 192\.168\.1\.4\/24/],
      ['--route via our own address', A(V4, '--route', '10.0.0.0/8@192.168.1.4'), /next hop 192\.168\.1\.4 is one of the addresses being attached/],
      ['two routes to one destination', A(V4, '--route', '10.0.0.0/8@192.168.1.1', '--route', '10.0.0.0/8@192.168.1.2'), /two routes to 10\.0\.0\.0\/8/],
      ['--route to loopback', A(V4, '--route', '127.0.0.0/8@192.168.1.1'), /loopback or IPv4-mapped range/],
      ['--route next hop off-link', A(V4, '--route', '198.51.100.0/24@10.9.9.9'), /next hop 10\.9\.9\.9 is outside every attached IPv4 subnet/],
      ['--route default and a gateway', A('192.168.1.4/24@192.168.1.1', '--route', 'default@192.168.1.1'), /both set the IPv4 default route/],
      ['--route with no value', A(V4, '--route'), /--route needs a value/],
      ['--dry-run does not skip validation', A(V4, '--dry-run', '--mtu', 'x'), /invalid MTU "x"/],
      // detach
      ['detach with mac:zz', ['detach', P, 'mac:zz'], /invalid MAC "zz"/],
      ['detach with a bad PCI address', ['detach', P, 'pci:bad'], /invalid PCI address "bad"/],
      ['detach with a PCI function 9', ['detach', P, 'pci:0000:00:05.9'], /the function must be a digit 0\.\.7/],
      ['detach with a bare MAC', ['detach', P, '52:54:00:12:34:56'], /that is a MAC address/],
      ['detach with an empty NIC', ['detach', P, ''], /^hostnic: NIC is empty$/],
      ['detach of a NIC it does not have', ['detach', P, 'nic9'], new RegExp(`nothing hostnic attached to pid:${ctr.pid}`)],
      ['detach with an empty target', ['detach', ''], /^hostnic: target is empty$/],
      ['detach pid:0', ['detach', 'pid:0'], /invalid target "pid:0"/],
      ['detach with an extra argument', ['detach', P, nic, 'extra'], /Unknown argument: extra/],
      ['detach with no target', ['detach'], /Not enough non-option arguments/],
      ['status with an argument', ['status', 'extra'], /Unknown argument: extra/],
      ['recover with an unknown option', ['recover', '--bogus'], /Unknown argument: bogus/],
    ];
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const [what, args, pattern] of cases) {
      const r = await lab.hostnic(args);
      const label = `${what}: hostnic ${args.map((a) => JSON.stringify(a)).join(' ')}`;
      expect.soft(r.exitCode, `${label}\n${r.stderr}`).toBe(2);
      expect.soft(r.stdout, label).toBe('');
      expectOneError(r, label, pattern);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(journalFiles(lab)).toEqual([]);
    expect(attachmentFiles(lab)).toEqual([]);
  });
});
