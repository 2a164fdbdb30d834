/**
 * The doctor's checks: each looks at the host (read-only) and returns a
 * verdict, why it matters, and a fix as step data (`StepSpec`) that the one
 * runner applies and can undo. A fix with no steps is advice for a person
 * (its summary says exactly what to change): hostnic does not edit files
 * that belong to the admin (interfaces, netplan) or stop their processes.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { read } from '../exec.js';
import { hostnicAlive, unfinishedPlans as journalsOf } from '../runner.js';
import { StateDir } from '../state.js';
import type { StepSpec } from '../steps/types.js';
import type { FileWriteParams } from '../steps/file.js';
import type { NetworkdReloadParams } from '../steps/networkd.js';
import type { NmManagedParams, NmReloadParams } from '../steps/nm.js';
import type { SysctlParams } from '../steps/sysctl.js';
import { dockerNetworks, type DockerNetwork } from './docker.js';
import { confKey, listNics, type InventoryOptions, type NicDetail } from './inventory.js';
import { networkFileMatches, networkFiles, type ManagerClaim } from './managers.js';
import { hostPaths, type HostPaths } from './paths.js';
import { persistedSysctls, sysctlReader, type SysctlReader } from './sysctl.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export type CheckId =
  | 'privileges'
  | 'tools'
  | 'unfinished-plans'
  | 'arp-flux'
  | 'rp-filter'
  | 'networkmanager'
  | 'systemd-networkd'
  | 'ifupdown'
  | 'dhcp-client'
  | 'netplan'
  | 'docker-overlap';

export interface Fix {
  /** What the fix does, for people; for a fix without steps, exactly what to change by hand. */
  summary: string;
  /** Reversible steps for the runner (empty: by hand only). */
  steps: StepSpec[];
}

export interface Check {
  id: CheckId;
  verdict: Verdict;
  title: string;
  why: string;
  /** The NICs the verdict is about. */
  nics?: string[];
  fix?: Fix;
}


export interface DoctorOptions extends InventoryOptions {
  /** Only these NICs for the per-NIC checks (default: every secondary NIC). */
  nics?: string[];
  /** Ask Docker about its networks (default true). */
  docker?: boolean;
}

/** What the checks look at, gathered once. */
export interface HostView {
  netns?: string;
  paths: HostPaths;
  sysctl: SysctlReader;
  nics: NicDetail[];
  /** The NICs the per-NIC checks consider: secondary ones (optionally those named). */
  candidates: NicDetail[];
  /** Named NICs that are skipped because they carry the default route. */
  skippedPrimary: string[];
}

export const FILE_NAMES = {
  sysctl: '90-hostnic.conf',
  networkManager: '90-hostnic.conf',
  networkdPrefix: '00-hostnic-',
} as const;

export async function inspectHost(opts: DoctorOptions = {}): Promise<HostView> {
  const paths = hostPaths(opts.paths);
  const sysctl = opts.sysctl ?? sysctlReader(opts.netns);
  const nics = await listNics({ ...opts, sysctl });
  const wanted = opts.nics && opts.nics.length ? new Set(opts.nics) : undefined;
  const chosen = wanted ? nics.filter((n) => wanted.has(n.name)) : nics;
  return {
    ...(opts.netns ? { netns: opts.netns } : {}),
    paths,
    sysctl,
    nics,
    candidates: chosen.filter((n) => n.role === 'secondary'),
    skippedPrimary: chosen.filter((n) => n.role === 'primary').map((n) => n.name),
  };
}

/**
 * Every check, in the order `doctor` prints them. A check that crashes becomes
 * a warning. `view`: what inspectHost(opts) returned, when the caller has it.
 */
export async function runChecks(opts: DoctorOptions = {}, view?: HostView): Promise<Check[]> {
  view ??= await inspectHost(opts);
  const guard = async (id: CheckId, f: () => Check | null | Promise<Check | null>): Promise<Check | null> => {
    try {
      return await f();
    } catch (e) {
      return { id, verdict: 'warn', title: `${id}: could not check`, why: (e as Error).message };
    }
  };
  const statusFile = join(view.paths.proc, 'self', 'status');
  const results = await Promise.all([
    guard('privileges', () => checkPrivileges(readFileSync(statusFile, 'utf8'), process.getuid?.() ?? -1)),
    guard('tools', () => checkTools()),
    guard('unfinished-plans', () => checkUnfinishedPlans(view.paths.stateDir, view.paths.proc)),
    guard('arp-flux', () => checkArpFlux(view)),
    guard('rp-filter', () => checkRpFilter(view)),
    guard('networkmanager', () => checkNetworkManager(view)),
    guard('systemd-networkd', () => checkNetworkd(view)),
    guard('ifupdown', () => checkIfupdown(view)),
    guard('dhcp-client', () => checkDhcpClients(view)),
    guard('netplan', () => checkNetplan(view)),
    guard('docker-overlap', async () => (opts.docker ?? true ? checkDockerOverlap(view, await dockerNetworks(view.paths.dockerSocket)) : null)),
  ]);
  return results.filter((c): c is Check => c !== null);
}

// ---------------------------------------------------------------------------
// privileges, tools, unfinished plans

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

/** From /proc/self/status and the uid. */
export function checkPrivileges(status: string, uid: number): Check {
  const m = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(status);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  const missing: string[] = [];
  if (uid !== 0) missing.push('root');
  if (!(eff & (1n << CAP_NET_ADMIN))) missing.push('CAP_NET_ADMIN');
  if (!(eff & (1n << CAP_SYS_ADMIN))) missing.push('CAP_SYS_ADMIN');
  const why =
    'Moving a NIC between namespaces and configuring it needs CAP_NET_ADMIN; entering a container\'s namespace (setns) needs CAP_SYS_ADMIN; the state directory and the fixes write root-owned files.';
  if (missing.length === 0) return { id: 'privileges', verdict: 'ok', title: 'Running as root with CAP_NET_ADMIN and CAP_SYS_ADMIN', why };
  return {
    id: 'privileges',
    verdict: 'fail',
    title: `Missing: ${missing.join(', ')}`,
    why,
    fix: { summary: 'Run hostnic as root (sudo hostnic ...), outside a container that drops these capabilities.', steps: [] },
  };
}

async function works(argv: string[]): Promise<string | null> {
  try {
    return await read({ argv, timeoutMs: 10_000 });
  } catch {
    return null;
  }
}

export async function checkTools(): Promise<Check> {
  const [ipOut, nsenter, nmcli, networkctl] = await Promise.all([
    works(['ip', '-json', 'link', 'show', 'dev', 'lo']),
    works(['nsenter', '--version']),
    works(['nmcli', '--version']),
    works(['networkctl', '--version']),
  ]);
  let ipJson = false;
  try {
    ipJson = ipOut !== null && Array.isArray(JSON.parse(ipOut));
  } catch {
    ipJson = false;
  }
  const missing: string[] = [];
  if (ipOut === null) missing.push('ip (iproute2)');
  else if (!ipJson) missing.push('ip with JSON output (iproute2 >= 4.14)');
  if (nsenter === null) missing.push('nsenter (util-linux)');
  const optional = [`nmcli ${nmcli !== null ? 'found' : 'not found'}`, `networkctl ${networkctl !== null ? 'found' : 'not found'}`].join(', ');
  const why = 'hostnic reads the kernel as JSON (`ip -json`) and runs commands inside other namespaces with nsenter. nmcli and networkctl are optional: they let doctor ask NetworkManager and systemd-networkd directly.';
  if (missing.length === 0) return { id: 'tools', verdict: 'ok', title: `ip (JSON) and nsenter found; ${optional}`, why };
  return {
    id: 'tools',
    verdict: 'fail',
    title: `Missing: ${missing.join(', ')}`,
    why,
    fix: { summary: 'Install them: apt-get install iproute2 util-linux (dnf install iproute util-linux).', steps: [] },
  };
}

export interface UnfinishedPlan {
  id: string;
  title: string;
  command: string;
  pid: number;
  startedAt: string;
  /** The hostnic that wrote it is still running: a plan in progress, not a dead one. */
  running: boolean;
}

/**
 * The journals in the state directory (the runner's own reader): plans a
 * hostnic started and did not finish, and journal files that do not parse.
 * A journal whose hostnic still runs is a plan in progress.
 */
export function planSummaries(stateDir: string, procRoot = '/proc'): { plans: UnfinishedPlan[]; unreadable: { file: string; error: string }[] } {
  const { journals, bad } = journalsOf(new StateDir(stateDir));
  return {
    plans: journals.map((j) => ({
      id: j.id, title: j.title, command: j.command, pid: j.pid, startedAt: j.startedAt, running: hostnicAlive(j, procRoot),
    })),
    unreadable: bad,
  };
}

export function checkUnfinishedPlans(stateDir: string, procRoot = '/proc'): Check {
  const { plans, unreadable } = planSummaries(stateDir, procRoot);
  const dead = plans.filter((p) => !p.running);
  const running = plans.filter((p) => p.running);
  const why = 'A plan cut off half-way may have left a NIC in a temporary namespace or a sysctl changed; hostnic refuses to touch that NIC again until the plan is finished or undone.';
  const inProgress = running.length ? ` (${running.map((p) => `"${p.title}" in progress, pid ${p.pid}`).join('; ')})` : '';
  if (dead.length === 0 && unreadable.length === 0) {
    return { id: 'unfinished-plans', verdict: 'ok', title: `No unfinished plans in ${stateDir}${inProgress}`, why };
  }
  const parts = [
    ...dead.map((p) => `"${p.title}" (pid ${p.pid}, started ${p.startedAt})`),
    ...unreadable.map((b) => `${b.file}: ${b.error}`),
  ];
  const n = dead.length + unreadable.length;
  return {
    id: 'unfinished-plans',
    verdict: 'fail',
    title: `${n} unfinished plan${n > 1 ? 's' : ''} in ${stateDir}: ${parts.join('; ')}${inProgress}`,
    why,
    fix: {
      summary: [
        ...(dead.length ? ['Run `hostnic recover`: it undoes what those plans did (or completes a plan that only missed its record).'] : []),
        ...(unreadable.length ? [`Move the unreadable journal file${unreadable.length > 1 ? 's' : ''} aside (${unreadable.map((b) => b.file).join(', ')}) after checking what it did.`] : []),
      ].join('\n'),
      steps: [],
    },
  };
}

// ---------------------------------------------------------------------------
// ARP flux

const ARP_WANT = { arp_ignore: 1, arp_announce: 2 } as const;

function sysctlStep(view: HostView, key: string, value: string): StepSpec<SysctlParams> {
  const dotted = key.replace(/\//g, '.');
  return {
    kind: 'sysctl.set',
    title: `Set ${dotted}=${value}`,
    undoTitle: `Restore ${dotted}`,
    params: { ns: view.netns ?? null, key, value },
  };
}

function fileStep(path: string, content: string, what: string): StepSpec<FileWriteParams> {
  return {
    kind: 'file.write',
    title: `Write ${path} (${what})`,
    undoTitle: `Restore ${path}`,
    params: { path, content, mode: '0644' },
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The content of hostnic's sysctl.d file with `settings` (slash keys) set:
 * lines for other keys in an existing file are kept.
 */
export function sysctlFileContent(existing: string | undefined, settings: Record<string, string>): string {
  const ours = new Set(Object.keys(settings));
  const kept = (existing ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .filter((l) => !ours.has(l.split('=')[0]!.trim().replace(/\./g, '/')));
  const lines = [
    '# Written by `hostnic doctor --fix`; `hostnic doctor --undo` restores what was here.',
    '# ARP flux: with several NICs on one network, answer ARP only for addresses of the',
    '# NIC the request came in on, and announce from the NIC that owns the address.',
    ...kept,
    ...Object.entries(settings).map(([k, v]) => `${k.replace(/\//g, '.')} = ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

interface Persistence {
  file: string;
  /** Keys our file should set (and does not yet). */
  write: Record<string, string>;
  /** Later files that set a key back below what we want. */
  overridden: { key: string; value: string; file: string; line: number }[];
}

function arpPersistence(view: HostView): Persistence {
  const file = join(view.paths.sysctlConfDir, FILE_NAMES.sysctl);
  const dirs = [view.paths.sysctlConfDir, ...view.paths.sysctlDirs.filter((d) => d !== view.paths.sysctlConfDir)];
  const boot = persistedSysctls(dirs, view.paths.sysctlConf);
  const ourText = readText(file);
  const write: Record<string, string> = {};
  const overridden: Persistence['overridden'] = [];
  for (const [k, want] of Object.entries(ARP_WANT)) {
    const key = confKey('all', k);
    const p = boot.get(key);
    if (p && Number(p.value) >= want) continue;
    const oursHasIt = (ourText ?? '').split('\n').some((l) => {
      const [lk, lv] = l.split('=');
      return lk?.trim().replace(/\./g, '/') === key && Number(lv?.trim()) >= want;
    });
    if (oursHasIt && p) overridden.push({ key, value: p.value, file: p.file, line: p.line });
    else write[key] = String(want);
  }
  return { file, write, overridden };
}

/**
 * The NICs that can take part in ARP flux: links that do ARP, are not a port
 * of a bridge or bond (their master answers for them), and are not a bridge
 * of containers only (docker0 and friends: no port but veths).
 */
export function arpCapable(nics: readonly NicDetail[]): NicDetail[] {
  return nics.filter((n) => {
    if (n.noArp || n.master) return false;
    if (n.kind !== 'bridge') return true;
    return nics.some((p) => p.master === n.name && p.kind !== 'veth');
  });
}

export async function checkArpFlux(view: HostView): Promise<Check> {
  const why =
    'With several NICs on one network, Linux by default answers ARP for any local address on any NIC ("ARP flux"): neighbours learn the wrong MAC for an address, and the cloud network, which drops frames from a MAC that does not own the address, loses the traffic. arp_ignore=1 answers only on the NIC that owns the address; arp_announce=2 uses that NIC\'s address in its own requests. The kernel applies the larger of conf/all and the NIC\'s own value.';
  const arpNics = arpCapable(view.nics);
  if (arpNics.length < 2) {
    return { id: 'arp-flux', verdict: 'ok', title: `Only ${arpNics.length} NIC that does ARP: no ARP flux possible`, why };
  }
  const keyI = confKey('all', 'arp_ignore');
  const keyA = confKey('all', 'arp_announce');
  const all = await view.sysctl.get([keyI, keyA]);
  const lowIgnore = arpNics.filter((n) => (n.arpIgnore ?? 0) < ARP_WANT.arp_ignore);
  const lowAnnounce = arpNics.filter((n) => (n.arpAnnounce ?? 0) < ARP_WANT.arp_announce);
  const steps: StepSpec[] = [];
  if (Number(all.get(keyI) ?? 0) < ARP_WANT.arp_ignore && lowIgnore.length) steps.push(sysctlStep(view, keyI, String(ARP_WANT.arp_ignore)));
  if (Number(all.get(keyA) ?? 0) < ARP_WANT.arp_announce && lowAnnounce.length) steps.push(sysctlStep(view, keyA, String(ARP_WANT.arp_announce)));
  const persist = arpPersistence(view);
  if (Object.keys(persist.write).length) {
    const content = sysctlFileContent(readText(persist.file), { ...persist.write, [keyI]: '1', [keyA]: '2' });
    steps.push(fileStep(persist.file, content, 'arp_ignore=1, arp_announce=2 at boot'));
  }
  const manual = persist.overridden.map((o) => `${o.file}:${o.line} sets ${o.key.replace(/\//g, '.')}=${o.value} after ${FILE_NAMES.sysctl}: remove that line`);
  const fix = (summary: string): Fix => ({ summary: [summary, ...manual].filter(Boolean).join('\n'), steps });

  if (lowIgnore.length) {
    return {
      id: 'arp-flux',
      verdict: 'fail',
      title: `ARP flux: ${lowIgnore.map((n) => n.name).join(', ')} answer ARP for any local address (arp_ignore=0)`,
      why,
      nics: lowIgnore.map((n) => n.name),
      fix: fix(`sysctl net.ipv4.conf.all.arp_ignore=1 and net.ipv4.conf.all.arp_announce=2 now, and in ${persist.file} for the next boot`),
    };
  }
  if (lowAnnounce.length) {
    return {
      id: 'arp-flux',
      verdict: 'warn',
      title: `arp_announce below 2 on ${lowAnnounce.map((n) => n.name).join(', ')}`,
      why,
      nics: lowAnnounce.map((n) => n.name),
      fix: fix(`sysctl net.ipv4.conf.all.arp_announce=2 now, and in ${persist.file} for the next boot`),
    };
  }
  if (steps.length || manual.length) {
    return {
      id: 'arp-flux',
      verdict: 'warn',
      title: 'arp_ignore/arp_announce are right now but not at boot: a reboot brings ARP flux back',
      why,
      fix: fix(steps.length ? `Persist them in ${persist.file}` : ''),
    };
  }
  return { id: 'arp-flux', verdict: 'ok', title: 'arp_ignore=1 and arp_announce=2 on every NIC, now and at boot', why };
}

// ---------------------------------------------------------------------------
// rp_filter

function ipv4Networks(nic: NicDetail): string[] {
  const out: string[] = [];
  for (const cidr of nic.addresses) {
    try {
      const [addr, bits] = ipaddr.parseCIDR(cidr);
      if (addr.kind() !== 'ipv4' || bits >= 32) continue;
      out.push(`${ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()}/${bits}`);
    } catch {
      /* not an address we understand */
    }
  }
  return out;
}

export function checkRpFilter(view: HostView): Check {
  const why =
    'When two NICs share a subnet, the route back to a sender on it goes out one of them only; strict reverse-path filtering (rp_filter=1) then drops what arrives on the other. Loose mode (2) still drops spoofed sources that are not routable at all.';
  const bySubnet = new Map<string, NicDetail[]>();
  for (const n of view.nics) for (const net of new Set(ipv4Networks(n))) bySubnet.set(net, [...(bySubnet.get(net) ?? []), n]);
  const shared = [...bySubnet.entries()].filter(([, ns]) => ns.length > 1);
  const strict = [...new Set(shared.flatMap(([, ns]) => ns))].filter((n) => n.rpFilter === 1);
  if (strict.length === 0) {
    return {
      id: 'rp-filter',
      verdict: 'ok',
      title: shared.length ? `NICs share ${shared.map(([s]) => s).join(', ')}; none filters strictly` : 'No two NICs share an IPv4 subnet',
      why,
    };
  }
  return {
    id: 'rp-filter',
    verdict: 'warn',
    title: `Strict rp_filter on ${strict.map((n) => n.name).join(', ')}, which share ${shared.map(([s, ns]) => `${s} (${ns.map((n) => n.name).join(', ')})`).join('; ')}`,
    why,
    nics: strict.map((n) => n.name),
    fix: {
      summary: `Loose mode on those NICs: ${strict.map((n) => `sysctl net.ipv4.conf.${n.name}.rp_filter=2`).join('; ')} (not persisted: the NICs are on their way into containers)`,
      steps: strict.map((n) => sysctlStep(view, confKey(n.name, 'rp_filter'), '2')),
    },
  };
}

// ---------------------------------------------------------------------------
// NetworkManager

const claimsOf = (n: NicDetail, m: ManagerClaim['manager']) => n.claims.filter((c) => c.manager === m);

/** How hostnic's NetworkManager file names a NIC: by MAC for a physical NIC (a rename keeps it), by name for a virtual one (its MAC is random, and NetworkManager matches `mac:` against the permanent MAC only). */
export function nmDeviceSpec(nic: Pick<NicDetail, 'kind' | 'name' | 'mac' | 'permanentMac'>): string {
  const mac = nic.permanentMac ?? nic.mac;
  return nic.kind === 'physical' && mac ? `mac:${mac}` : `interface-name:${nic.name}`;
}

/** Split a NetworkManager device-spec list (',' or ';', backslash escapes). */
export function splitSpecs(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < list.length; i++) {
    const ch = list[i]!;
    if (ch === '\\' && i + 1 < list.length) cur += list[++i]!;
    else if (ch === ',' || ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Specs in hostnic's own NetworkManager file (from its `unmanaged-devices+=` line). */
export function nmFileSpecs(text: string | undefined): string[] {
  const m = /^\s*unmanaged-devices\s*\+=\s*(.*)$/m.exec(text ?? '');
  return m ? splitSpecs(m[1]!) : [];
}

/**
 * hostnic's conf.d file. It appends (`+=`) to the admin's list rather than
 * replacing it. A list of only `except:` specs means "every device but
 * these"; adding a positive spec would turn it into "only these", so then a
 * `*` goes first and the meaning of the admin's list is kept.
 */
export function nmFileContent(specs: string[], adminList: string[]): string {
  const onlyNegative = adminList.length > 0 && adminList.every((s) => s.startsWith('except:'));
  const list = [...(onlyNegative ? ['*'] : []), ...specs].join(';');
  return [
    '# Written by `hostnic doctor --fix`; `hostnic doctor --undo` removes it.',
    '# NetworkManager leaves these NICs alone: hostnic hands them to containers.',
    '[keyfile]',
    `unmanaged-devices+=${list}`,
    '',
  ].join('\n');
}

/** NetworkManager's merged `[keyfile] unmanaged-devices` (its own `--print-config`), or [] when unknown. */
export async function nmUnmanagedList(paths: HostPaths): Promise<string[]> {
  try {
    const text = await read({
      argv: ['NetworkManager', '--print-config', `--config=${paths.nmConfFile}`, `--config-dir=${paths.nmConfDir}`, `--system-config-dir=${paths.nmSystemConfDir}`],
      timeoutMs: 10_000,
    });
    let section = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) section = sec[1]!;
      else if (section === 'keyfile' && line.startsWith('unmanaged-devices=')) return splitSpecs(line.slice('unmanaged-devices='.length));
    }
  } catch {
    /* no NetworkManager binary */
  }
  return [];
}

export async function checkNetworkManager(view: HostView): Promise<Check> {
  const why =
    'NetworkManager takes a new NIC: it runs DHCP on it, adds addresses and routes, and may take it back when it changes. hostnic does not stop or remove NetworkManager; it marks the NIC unmanaged, now (nmcli) and in a conf.d file matched by MAC, so a rename does not undo it.';
  const managed = view.candidates.filter((n) => claimsOf(n, 'NetworkManager').some((c) => c.active));
  const skipped = view.skippedPrimary.length ? ` (${view.skippedPrimary.join(', ')} carries the default route: left alone)` : '';
  if (managed.length === 0) {
    return { id: 'networkmanager', verdict: 'ok', title: `NetworkManager manages no secondary NIC${skipped}`, why };
  }
  const file = join(view.paths.nmConfDir, FILE_NAMES.networkManager);
  const existing = readText(file);
  const before = nmFileSpecs(existing);
  const specs = [...new Set([...before, ...managed.map(nmDeviceSpec)])].filter((s) => s !== '*');
  const ours = new Set([...before, '*']);
  const adminList = (await nmUnmanagedList(view.paths)).filter((s) => !ours.has(s));
  const content = nmFileContent(specs, adminList);
  // nm.managed first: it captures whether NetworkManager managed the NIC
  // before anything changed (after the conf.d file it would read "no", and
  // its undo would leave the NIC unmanaged).
  const steps: StepSpec[] = [];
  for (const n of managed) {
    const step: StepSpec<NmManagedParams> = {
      kind: 'nm.managed',
      title: `NetworkManager leaves ${n.name} alone (nmcli device set ${n.name} managed no)`,
      undoTitle: `NetworkManager manages ${n.name} again`,
      params: { device: n.name, managed: false },
    };
    steps.push(step);
  }
  if (content !== existing) {
    const reload: StepSpec<NmReloadParams> = {
      kind: 'nm.reload',
      title: 'NetworkManager rereads its configuration',
      undoTitle: 'NetworkManager rereads its configuration',
      params: {},
    };
    steps.push(reload, fileStep(file, content, `unmanaged-devices+=${specs.join(';')}`), reload);
  }
  return {
    id: 'networkmanager',
    verdict: 'fail',
    title: `NetworkManager manages ${managed.map((n) => `${n.name} (${claimsOf(n, 'NetworkManager')[0]!.state})`).join(', ')}${skipped}`,
    why,
    nics: managed.map((n) => n.name),
    fix: {
      summary: `${managed.map((n) => `nmcli device set ${n.name} managed no`).join('; ')}; write ${file} with unmanaged-devices+=${specs.join(';')}; nmcli general reload conf`,
      steps,
    },
  };
}

// ---------------------------------------------------------------------------
// systemd-networkd

/** hostnic's .network file for a NIC: sorts before the usual 10-/50-/80-/99- files, so it is the one networkd applies. */
export function networkdFile(nic: Pick<NicDetail, 'kind' | 'name' | 'mac' | 'permanentMac'>, dir: string): { path: string; content: string } {
  const mac = nic.permanentMac ?? nic.mac;
  const byMac = nic.kind === 'physical' && !!mac;
  const id = byMac ? mac!.replace(/:/g, '') : nic.name;
  const match = byMac ? (nic.permanentMac ? `PermanentMACAddress=${nic.permanentMac}` : `MACAddress=${mac}`) : `Name=${nic.name}`;
  const content = [
    '# Written by `hostnic doctor --fix`; `hostnic doctor --undo` removes it.',
    '# systemd-networkd leaves this NIC alone: hostnic hands it to a container.',
    '[Match]',
    match,
    '',
    '[Link]',
    'Unmanaged=yes',
    '',
  ].join('\n');
  return { path: join(dir, `${FILE_NAMES.networkdPrefix}${id}.network`), content };
}

export function checkNetworkd(view: HostView): Check {
  const why =
    'systemd-networkd configures every link a .network file matches: DHCP, addresses, and it takes the NIC back when it changes. A .network file that sorts first and matches the NIC with Unmanaged=yes makes networkd leave it alone.';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'systemd-networkd').some((c) => c.active || c.atBoot));
  if (claimed.length === 0) return { id: 'systemd-networkd', verdict: 'ok', title: 'systemd-networkd manages no secondary NIC', why };
  const active = claimed.some((n) => claimsOf(n, 'systemd-networkd').some((c) => c.active));
  const files = networkFiles([view.paths.networkdConfDir, ...view.paths.networkdDirs.filter((d) => d !== view.paths.networkdConfDir)]);
  const steps: StepSpec[] = [];
  const manual: string[] = [];
  for (const n of claimed) {
    const f = networkdFile(n, view.paths.networkdConfDir);
    if (readText(f.path) !== f.content) steps.push(fileStep(f.path, f.content, `Unmanaged=yes for ${n.name}`));
    const earlier = files.filter((x) => basename(x.path) < basename(f.path) && networkFileMatches(x, n));
    for (const e of earlier) manual.push(`${e.path} sorts before ${basename(f.path)} and matches ${n.name}: rename or narrow it`);
  }
  // A running networkd rereads the files on `networkctl reload`; one that does not run reads them when it starts.
  const written = steps.map((s) => (s.params as FileWriteParams).path);
  if (active && steps.length) {
    const reload: StepSpec<NetworkdReloadParams> = {
      kind: 'networkd.reload',
      title: 'systemd-networkd rereads its .network files (networkctl reload)',
      undoTitle: 'systemd-networkd rereads its .network files (networkctl reload)',
      params: {},
    };
    steps.unshift(reload);
    steps.push(reload);
  }
  return {
    id: 'systemd-networkd',
    verdict: active ? 'fail' : 'warn',
    title: `systemd-networkd ${active ? 'manages' : 'would manage at boot'}: ${claimed.map((n) => `${n.name} (${claimsOf(n, 'systemd-networkd')[0]!.detail.replace(/^systemd-networkd: /, '')})`).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: [`Write ${written.join(', ') || 'the .network files'} with [Link] Unmanaged=yes${active ? ', then `networkctl reload`' : ' (networkd reads them when it starts)'}`, ...manual].join('\n'),
      steps,
    },
  };
}

// ---------------------------------------------------------------------------
// ifupdown, DHCP clients, netplan: advice (their files and processes belong to the admin)

export function checkIfupdown(view: HostView): Check {
  const why = 'ifupdown brings up every interface named on an `auto` or `allow-hotplug` line at boot and on hotplug, and configures it from its `iface` stanza (often DHCP).';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'ifupdown').some((c) => c.atBoot));
  if (claimed.length === 0) return { id: 'ifupdown', verdict: 'ok', title: 'No ifupdown auto/allow-hotplug line names a secondary NIC', why };
  const lines = claimed.flatMap((n) => claimsOf(n, 'ifupdown').map((c) => `${n.name}: ${c.detail.replace(/^ifupdown: /, '')}`));
  return {
    id: 'ifupdown',
    verdict: 'warn',
    title: `ifupdown brings up ${claimed.map((n) => n.name).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: [
        ...claimed.map((n) => {
          const c = claimsOf(n, 'ifupdown')[0]!;
          return `In ${c.file}${c.line ? ` line ${c.line}` : ''}: remove ${n.name} from its auto/allow-hotplug line and delete (or comment out) its \`iface ${n.name}\` stanza`;
        }),
        ...lines.map((l) => `  (${l})`),
      ].join('\n'),
      steps: [],
    },
  };
}

export function checkDhcpClients(view: HostView): Check {
  const why = 'A DHCP client on the NIC keeps renewing its lease and re-adds the address (and a default route) the cloud hands out, on the host side.';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'dhcp-client').length > 0);
  if (claimed.length === 0) return { id: 'dhcp-client', verdict: 'ok', title: 'No DHCP client runs on a secondary NIC', why };
  const pids = [...new Set(claimed.flatMap((n) => claimsOf(n, 'dhcp-client').map((c) => c.pid)).filter((p): p is number => p !== undefined))];
  return {
    id: 'dhcp-client',
    verdict: 'warn',
    title: `DHCP client on ${claimed.map((n) => n.name).join(', ')}: ${claimed.flatMap((n) => claimsOf(n, 'dhcp-client').map((c) => c.detail.split(':')[0])).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: `kill ${pids.join(' ')}   # stops the client without releasing the lease; then remove what starts it (see the ifupdown, NetworkManager and netplan checks)`,
      steps: [],
    },
  };
}

export function checkNetplan(view: HostView): Check {
  const why = 'netplan generates NetworkManager or systemd-networkd configuration at every boot (and on `netplan apply`): a NIC named in its YAML is configured again.';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'netplan').length > 0);
  if (claimed.length === 0) return { id: 'netplan', verdict: 'ok', title: 'No netplan file names a secondary NIC', why };
  return {
    id: 'netplan',
    verdict: 'warn',
    title: `netplan configures ${claimed.map((n) => n.name).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: claimed
        .map((n) => {
          const c = claimsOf(n, 'netplan')[0]!;
          return `In ${c.file} line ${c.line}: remove the entry for ${n.name} (${c.detail.replace(/^netplan: /, '')}), then \`netplan generate\``;
        })
        .join('\n'),
      steps: [],
    },
  };
}

// ---------------------------------------------------------------------------
// Docker

/** Do two CIDR prefixes share any address? */
export function cidrOverlap(a: string, b: string): boolean {
  try {
    const [aa, ab] = ipaddr.parseCIDR(a);
    const [ba, bb] = ipaddr.parseCIDR(b);
    if (aa.kind() !== ba.kind()) return false;
    return (aa as ipaddr.IPv4).match(ba as ipaddr.IPv4, Math.min(ab, bb));
  } catch {
    return false;
  }
}

/** Null (no check shown) when no Docker daemon answered. */
export function checkDockerOverlap(view: HostView, networks: DockerNetwork[] | null): Check | null {
  if (networks === null) return null;
  const why =
    'A Docker network routes its subnet to a bridge on the host: if it overlaps the subnet of a NIC (Docker\'s default 172.17.0.0/16 against a cloud network), traffic for those addresses goes to the bridge instead of the NIC.';
  const bridges = new Set(networks.map((n) => n.bridge).filter((b): b is string => !!b));
  const hits: string[] = [];
  const nics = new Set<string>();
  for (const nic of view.nics) {
    if (bridges.has(nic.name) || (nic.master && bridges.has(nic.master))) continue;
    for (const addr of nic.addresses) {
      for (const net of networks) {
        for (const subnet of net.subnets) {
          if (cidrOverlap(addr, subnet)) {
            hits.push(`${nic.name} ${addr} overlaps Docker network "${net.name}" ${subnet}`);
            nics.add(nic.name);
          }
        }
      }
    }
  }
  if (hits.length === 0) {
    return { id: 'docker-overlap', verdict: 'ok', title: `No Docker network overlaps a NIC's subnet (${networks.length} networks)`, why };
  }
  return {
    id: 'docker-overlap',
    verdict: 'warn',
    title: hits.join('; '),
    why,
    nics: [...nics],
    fix: {
      summary:
        'Move Docker off that range: set "bip" and "default-address-pools" in /etc/docker/daemon.json (for the default bridge) and restart dockerd, or recreate the user network with another --subnet.',
      steps: [],
    },
  };
}
