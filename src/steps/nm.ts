/**
 * NetworkManager, told to leave a device alone (and back), and told to reread
 * its configuration. Never stopped, never uninstalled.
 *
 * `nmcli device set DEV managed no|yes` is a runtime setting that
 * NetworkManager keeps (in /run/NetworkManager/devices) until reboot and that
 * wins over its configuration files. NetworkManager 1.42 has no way to clear
 * it, so undo sets it back to the captured value explicitly: the device is
 * managed again, as before, and stays so until reboot even if a conf.d file
 * later says otherwise.
 */
import { read, type Cmd } from '../exec.js';
import type { StepKind } from './types.js';

export interface NmManagedParams {
  device: string;
  managed: boolean;
}

/** Whether NetworkManager managed the device before; undefined when it did not know it (or did not answer). */
export type NmManagedSaved = boolean | undefined;

/** NetworkManager is gone, or the device is (moved into a container): nothing left to set. */
const GONE = /NetworkManager is not running|Device '.*' not found|No such device|not found/;

function setManaged(device: string, managed: boolean, tolerate?: RegExp): Cmd {
  return { argv: ['nmcli', 'device', 'set', device, 'managed', managed ? 'yes' : 'no'], timeoutMs: 15_000, ...(tolerate ? { tolerate } : {}) };
}

/** `nmcli -g GENERAL.NM-MANAGED device show DEV`: yes / no; undefined when unknown. */
export async function nmManagedNow(device: string): Promise<boolean | undefined> {
  try {
    const out = (await read({ argv: ['nmcli', '-g', 'GENERAL.NM-MANAGED', 'device', 'show', device], timeoutMs: 10_000 })).trim();
    if (out === 'yes') return true;
    if (out === 'no') return false;
  } catch {
    /* unknown device, or NetworkManager not running */
  }
  return undefined;
}

export const nmManaged: StepKind<NmManagedParams, NmManagedSaved> = {
  capture: (p) => nmManagedNow(p.device),

  apply: (p) => [setManaged(p.device, p.managed)],

  // It was already that way: nothing to put back (and no explicit setting left behind).
  undo: (p, saved) => (saved === p.managed ? [] : [setManaged(p.device, saved ?? !p.managed, GONE)]),
};

export type NmReloadParams = Record<string, never>;

const reloadCmd: Cmd = {
  argv: ['nmcli', 'general', 'reload', 'conf'],
  timeoutMs: 15_000,
  // Not running: it reads the files when it starts, which is all a reload does.
  tolerate: /NetworkManager is not running/,
};

/**
 * Reread NetworkManager.conf and conf.d. Its undo reloads too: put one before
 * and one after a `file.write` of a conf.d file, so that both applying and
 * undoing end with NetworkManager reading the files as they are then.
 */
export const nmReload: StepKind<NmReloadParams, undefined> = {
  apply: () => [reloadCmd],
  undo: () => [reloadCmd],
};
