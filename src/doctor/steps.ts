/**
 * The steps doctor's fixes are made of, built in one place: each check's fix
 * calls these rather than writing step objects by hand.
 */
import type { FileWriteParams } from '../steps/file.js';
import type { NetworkdReloadParams } from '../steps/networkd.js';
import type { NmManagedParams, NmReloadParams } from '../steps/nm.js';
import type { SysctlParams } from '../steps/sysctl.js';
import type { StepSpec } from '../steps/types.js';

/** Set a sysctl (slash key) in the inspected namespace (`netns` undefined: hostnic's own). */
export function sysctlSetStep(netns: string | undefined, key: string, value: string): StepSpec<SysctlParams> {
  const dotted = key.replace(/\//g, '.');
  return {
    kind: 'sysctl.set',
    title: `Set ${dotted}=${value}`,
    undoTitle: `Restore ${dotted}`,
    params: { ns: netns ?? null, key, value },
  };
}

/** Write a configuration file (mode 0644); `what` says what it sets, for people. */
export function fileWriteStep(path: string, content: string, what: string): StepSpec<FileWriteParams> {
  return {
    kind: 'file.write',
    title: `Write ${path} (${what})`,
    undoTitle: `Restore ${path}`,
    params: { path, content, mode: '0644' },
  };
}

/** NetworkManager leaves a device alone now (`nmcli device set DEV managed no`). */
export function nmUnmanagedStep(device: string): StepSpec<NmManagedParams> {
  return {
    kind: 'nm.managed',
    title: `NetworkManager leaves ${device} alone (nmcli device set ${device} managed no)`,
    undoTitle: `NetworkManager manages ${device} again`,
    params: { device, managed: false },
  };
}

/** NetworkManager rereads its configuration (both ways). */
export function nmReloadStep(): StepSpec<NmReloadParams> {
  return {
    kind: 'nm.reload',
    title: 'NetworkManager rereads its configuration',
    undoTitle: 'NetworkManager rereads its configuration',
    params: {},
  };
}

/** systemd-networkd rereads its .network files (both ways). */
export function networkdReloadStep(): StepSpec<NetworkdReloadParams> {
  const title = 'systemd-networkd rereads its .network files (networkctl reload)';
  return { kind: 'networkd.reload', title, undoTitle: title, params: {} };
}
