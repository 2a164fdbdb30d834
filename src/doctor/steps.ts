/**
 * The steps doctor's fixes are made of, built in one place: each check's fix
 * calls these rather than writing step objects by hand. Each step's id is
 * derived from what it changes (`sysctl:KEY`, `file:PATH`), so it is unique
 * in a fix plan and the fix record keeps what it saved under that id.
 */
import { makeStep } from '../steps/index.js';
import type { StepSpec } from '../steps/types.js';

/** Set a sysctl (slash key) in the inspected namespace (`netns` undefined: hostnic's own). */
export function sysctlSetStep(netns: string | undefined, key: string, value: string): StepSpec<'sysctl.set'> {
  const dotted = key.replace(/\//g, '.');
  return makeStep('sysctl.set', `sysctl:${dotted}`, `Set ${dotted}=${value}`, { ns: netns ?? null, key, value }, { undoTitle: `Restore ${dotted}` });
}

/** Write a configuration file (mode 0644); `what` says what it sets, for people. */
export function fileWriteStep(path: string, content: string, what: string): StepSpec<'file.write'> {
  return makeStep('file.write', `file:${path}`, `Write ${path} (${what})`, { path, content, mode: '0644' }, { undoTitle: `Restore ${path}` });
}

/** NetworkManager leaves a device alone now (`nmcli device set DEV managed no`). */
export function nmUnmanagedStep(device: string): StepSpec<'nm.managed'> {
  return makeStep('nm.managed', `nm.managed:${device}`, `NetworkManager leaves ${device} alone (nmcli device set ${device} managed no)`,
    { device, managed: false }, { undoTitle: `NetworkManager manages ${device} again` });
}

/** NetworkManager rereads its configuration (both ways); `when` tells the two of one plan apart. */
export function nmReloadStep(when: 'before' | 'after'): StepSpec<'nm.reload'> {
  const title = 'NetworkManager rereads its configuration';
  return makeStep('nm.reload', `nm.reload:${when}`, title, {}, { undoTitle: title });
}

/** systemd-networkd rereads its .network files (both ways); `when` tells the two of one plan apart. */
export function networkdReloadStep(when: 'before' | 'after'): StepSpec<'networkd.reload'> {
  const title = 'systemd-networkd rereads its .network files (networkctl reload)';
  return makeStep('networkd.reload', `networkd.reload:${when}`, title, {}, { undoTitle: title });
}
