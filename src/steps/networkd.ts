/**
 * systemd-networkd, told to reread its .network files. Never stopped.
 *
 * Like nm.reload, its undo reloads too: put one before and one after the
 * `file.write` steps of .network files, so that both applying and undoing end
 * with networkd reading the files as they are then.
 */
import type { Cmd } from '../exec.js';
import type { StepKind } from './types.js';

export type NetworkdReloadParams = Record<string, never>;

const reloadCmd: Cmd = {
  argv: ['networkctl', 'reload'],
  timeoutMs: 15_000,
  // Not running (networkctl warns so on stderr), or no bus to reach it on:
  // networkd reads the files when it starts, which is all a reload does.
  tolerate: /systemd-networkd is not running|Failed to connect to bus/,
};

export const networkdReload: StepKind<NetworkdReloadParams, undefined> = {
  apply: () => [reloadCmd],
  undo: () => [reloadCmd],
};
