/**
 * Calling hostnic as a CNI plugin, as a runtime does: CNI_* in the
 * environment, the network configuration on stdin, no arguments.
 */
import type { Lab, RunResult } from './lab.js';

/** Where Debian's containernetworking-plugins puts the reference plugins (static, host-local, host-device). */
export const CNI_PLUGINS = '/usr/lib/cni';

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
  containerId?: string;
  netns?: string;
  ifname?: string;
  config?: Record<string, unknown> | string;
  env?: Record<string, string>;
}

/** Run bin/hostnic in the lab host as a plugin. */
export function cni(lab: Lab, c: CniCall): Promise<RunResult> {
  const env: Record<string, string> = {
    CNI_COMMAND: c.command,
    CNI_PATH: CNI_PLUGINS,
    ...(c.containerId !== undefined ? { CNI_CONTAINERID: c.containerId } : {}),
    ...(c.netns !== undefined ? { CNI_NETNS: c.netns } : {}),
    ...(c.ifname !== undefined ? { CNI_IFNAME: c.ifname } : {}),
    ...c.env,
  };
  const input = typeof c.config === 'string' ? c.config : JSON.stringify(c.config ?? {});
  return lab.hostnic([], { env, input });
}

/** A hostnic network configuration with static IPAM. */
export function staticConf(version: string, name: string, device: string, ipam: { addresses: string[]; gateway?: string; routes?: { dst: string; gw?: string }[] }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: version, name, type: 'hostnic', device,
    ipam: {
      type: 'static',
      addresses: ipam.addresses.map((address) => ({ address, ...(ipam.gateway ? { gateway: ipam.gateway } : {}) })),
      ...(ipam.routes ? { routes: ipam.routes } : {}),
    },
    ...extra,
  };
}

/** The spec's error document of a failed call. */
export function errorOf(r: RunResult): { cniVersion: string; code: number; msg: string; details?: string } {
  return JSON.parse(r.stdout) as never;
}
