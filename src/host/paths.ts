/**
 * Every file and directory the host inspection reads or the doctor's fixes
 * write, in one place, so a test (or a careful admin) can point all of them at
 * a scratch tree and never touch the machine's real /etc.
 *
 * `HOSTNIC_CONFIG_ROOT=/tmp/x` prefixes the configuration paths (not /proc,
 * /sys or the Docker socket) with /tmp/x; single paths are overridden by
 * passing `Partial<HostPaths>`.
 */
import { basename, dirname, join } from 'node:path';
import { DEFAULT_DOCKER_SOCKET, dockerSocketPath } from '../runtime/docker.js';
import { defaultStateDir } from '../state.js';

/** Where the desired attachments live, under HOSTNIC_CONFIG_ROOT. */
export const DESIRED_FILE = '/etc/hostnic/attachments.yaml';

export interface HostPaths {
  /** procfs: /proc/self/status, /proc/PID/cmdline, /proc/PID/ns/net. */
  proc: string;
  /** sysfs view of links; only trusted after checking that it shows our namespace. */
  sysClassNet: string;
  /** Where `doctor --fix` writes 90-hostnic.conf for the ARP sysctls. */
  sysctlConfDir: string;
  /** sysctl.d directories, highest precedence first (same file name: the first wins). */
  sysctlDirs: string[];
  /** Read after every sysctl.d file (Debian links it as 99-sysctl.conf anyway). */
  sysctlConf: string;
  /** NetworkManager's main configuration file. */
  nmConfFile: string;
  /** Where `doctor --fix` writes 90-hostnic.conf for NetworkManager. */
  nmConfDir: string;
  /** NetworkManager's vendor configuration directory. */
  nmSystemConfDir: string;
  /** systemd-networkd's .network directories, highest precedence first. */
  networkdDirs: string[];
  /** Where `doctor --fix` writes 00-hostnic-*.network. */
  networkdConfDir: string;
  /** systemd unit directory (is systemd-networkd enabled?). */
  systemdSystemDir: string;
  ifupdownFile: string;
  ifupdownDir: string;
  /** ifupdown's record of interfaces it brought up. */
  ifupdownRunDir: string;
  /** netplan's YAML directories, highest precedence first (/run shadows /etc, both shadow /lib: netplan-generate(8)). */
  netplanDirs: string[];
  dockerSocket: string;
  /** hostnic's state directory (journals of plans in flight). */
  stateDir: string;
  /**
   * The desired attachments (`hostnic apply`, `hostnic watch`), a file
   * hostnic writes (attach --persist, detach) through a journaled
   * `file.write` step, like doctor's files above.
   */
  desiredFile: string;
}

/** The names of the files `doctor --fix` writes (the one definition: the checks and managedFiles use them). */
export const HOSTNIC_FILES = {
  /** In sysctlConfDir: the ARP sysctls at boot. */
  sysctl: '90-hostnic.conf',
  /** In nmConfDir: NetworkManager's unmanaged devices. */
  nm: '90-hostnic.conf',
  /** In networkdConfDir: 00-hostnic-<MAC without colons, or NIC name>.network. */
  networkdPrefix: '00-hostnic-',
} as const;

/**
 * The files outside the state directory that hostnic writes: the only ones a
 * `file.write` step (in a journal, a fix record) may name (steps/validate.ts
 * Bounds). Doctor's files, and the desired-state file. `path` is compared
 * as given (validate.ts has made sure it is absolute, with no `.` or `..`);
 * what it resolves to is the configuration directories' business, which are
 * root's, like the files hostnic writes there.
 */
export function managedFiles(paths: HostPaths = defaultHostPaths()): { managesFile(path: string): boolean } {
  const exact = new Set([join(paths.sysctlConfDir, HOSTNIC_FILES.sysctl), join(paths.nmConfDir, HOSTNIC_FILES.nm), paths.desiredFile]);
  return {
    managesFile: (path) => {
      if (exact.has(path)) return true;
      const name = basename(path);
      if (dirname(path) !== paths.networkdConfDir || !name.startsWith(HOSTNIC_FILES.networkdPrefix) || !name.endsWith('.network')) return false;
      // A MAC without colons, or an interface name (request/names.ts rules: no '/', ':', '%', space).
      const id = name.slice(HOSTNIC_FILES.networkdPrefix.length, -'.network'.length);
      return /^[\x21-\x7e]{1,15}$/.test(id) && !/[/:%]/.test(id) && !id.startsWith('-');
    },
  };
}

export function defaultHostPaths(env: NodeJS.ProcessEnv = process.env): HostPaths {
  const root = env.HOSTNIC_CONFIG_ROOT || '/';
  const r = (p: string) => join(root, p);
  return {
    proc: '/proc',
    sysClassNet: '/sys/class/net',
    sysctlConfDir: r('/etc/sysctl.d'),
    sysctlDirs: ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'].map(r),
    sysctlConf: r('/etc/sysctl.conf'),
    nmConfFile: r('/etc/NetworkManager/NetworkManager.conf'),
    nmConfDir: r('/etc/NetworkManager/conf.d'),
    nmSystemConfDir: r('/usr/lib/NetworkManager/conf.d'),
    networkdDirs: ['/etc/systemd/network', '/run/systemd/network', '/usr/local/lib/systemd/network', '/usr/lib/systemd/network', '/lib/systemd/network'].map(r),
    networkdConfDir: r('/etc/systemd/network'),
    systemdSystemDir: r('/etc/systemd/system'),
    ifupdownFile: r('/etc/network/interfaces'),
    ifupdownDir: r('/etc/network/interfaces.d'),
    ifupdownRunDir: r('/run/network'),
    netplanDirs: ['/run/netplan', '/etc/netplan', '/lib/netplan'].map(r),
    // Where DOCKER_HOST points, as for resolving containers (a tcp:// daemon has no socket here).
    dockerSocket: dockerSocketPath(env) ?? DEFAULT_DOCKER_SOCKET,
    stateDir: defaultStateDir(env),
    desiredFile: r(DESIRED_FILE),
  };
}

export function hostPaths(over: Partial<HostPaths> = {}, env: NodeJS.ProcessEnv = process.env): HostPaths {
  const base = defaultHostPaths(env);
  const out = { ...base };
  for (const [k, v] of Object.entries(over) as [keyof HostPaths, HostPaths[keyof HostPaths] | undefined][]) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}
