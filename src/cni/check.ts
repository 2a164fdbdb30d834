/**
 * CNI CHECK, GC and STATUS. CHECK: the attachment is as ADD left it (the
 * NIC inside under its name, MAC, MTU, up, its addresses, its default
 * route and routes), else the spec's error. GC: give back every attachment
 * of this network that the runtime no longer lists. STATUS: ready to ADD.
 */
import { liveCheck, NsReads } from '../observe/live.js';
import { mainDefaults, routeDst, type Route } from '../kernel/ip.js';
import { loadRecords, type AttachmentRecord } from '../records.js';
import { HostnicError } from '../errors.js';
import type { Ctx } from '../cli/context.js';
import { cniRecords, release } from './attachments.js';
import { delegateIpam, findPlugin } from './ipam.js';
import { CniError, CODE, type CniConfig, type CniEnv } from './protocol.js';

/** A route as `ip -json` shows it, compared by destination and next hop. */
const has = (routes: Route[], dst: string, dev: string, via?: string): boolean =>
  routes.some((r) => r.dev === dev && routeDst(r) === dst && (via === undefined || r.gateway === via));

/** What is not as ADD left it, or [] when all is. */
async function drift(rec: AttachmentRecord): Promise<string[]> {
  const reads = new NsReads();
  const live = await liveCheck(rec, reads);
  if (live.status !== 'in place') return [live.detail];
  const i = rec.input;
  const ns = await reads.get(i.target.nsPath);
  const problems: string[] = [];
  for (const a of i.request.addresses) {
    if (!a.gateway) continue;
    const defaults = mainDefaults(a.family === 4 ? ns.routes4 : ns.routes6);
    if (!defaults.some((r) => r.gateway === a.gateway && r.dev === i.ctrName)) problems.push(`no IPv${a.family} default route via ${a.gateway} dev ${i.ctrName}`);
  }
  for (const r of i.request.routes) {
    if (!has(r.family === 4 ? ns.routes4 : ns.routes6, r.dst, i.ctrName, r.via)) problems.push(`no route ${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${i.ctrName}`);
  }
  return problems;
}

export async function cniCheck(env: CniEnv, cfg: CniConfig, stdin: string, ctx: Ctx): Promise<void> {
  const [rec] = cniRecords(ctx, env, cfg.name);
  if (!rec) throw new CniError(CODE.drifted, `no attachment of ${env.ifname} to container ${env.containerId} in network ${cfg.name}`, 'ADD was not run, or the state directory was lost');
  const problems = await drift(rec);
  if (problems.length) throw new CniError(CODE.drifted, `${env.ifname} of container ${env.containerId}: ${problems.join(', ')}`);
  await delegateIpam('CHECK', cfg, stdin, env);
}

/** GC: release the attachments of this network whose (container ID, ifname) the runtime does not list. */
export async function cniGc(env: CniEnv, cfg: CniConfig, stdin: string, ctx: Ctx): Promise<void> {
  const valid = new Set((cfg.validAttachments ?? []).map((a) => `${a.containerID}\u0000${a.ifname}`));
  const stale = loadRecords(ctx.state).records.filter((r) => r.cni && r.cni.network === cfg.name && !valid.has(`${r.cni.containerId}\u0000${r.cni.ifname}`));
  const failed: string[] = [];
  for (const rec of stale) {
    try {
      await release(rec, ctx);
    } catch (e) {
      failed.push(`${rec.cni!.containerId}/${rec.cni!.ifname}: ${(e as Error).message}`);
    }
  }
  await delegateIpam('GC', cfg, stdin, env);
  if (failed.length) throw new CniError(CODE.rolledBack, `GC could not release ${failed.length} of ${stale.length} attachment(s)`, failed.join('; '));
}

/** STATUS: the state directory is usable and the IPAM plugin is there; else code 50. */
export function cniStatus(env: CniEnv, cfg: CniConfig, ctx: Ctx): void {
  try {
    ctx.state.ensure();
  } catch (e) {
    if (e instanceof HostnicError) throw new CniError(CODE.notAvailable, `state directory: ${e.message}`);
    throw e;
  }
  if (cfg.ipam && !findPlugin(cfg.ipam.type, env.path)) {
    throw new CniError(CODE.notAvailable, `IPAM plugin "${cfg.ipam.type}" not found in CNI_PATH (${env.path.join(':') || 'empty'})`);
  }
}
