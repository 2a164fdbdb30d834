/**
 * CNI ADD: `hostnic attach` for a runtime. The same request, locks,
 * observation, planner, runner, journal and record; the record also
 * carries the CNI identity and the result, so DEL, CHECK, GC, `hostnic
 * status` and a second ADD find it.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HostnicError, UsageError } from '../errors.js';
import { describeSelector, hostLinks, hostNicState, nicNotFound } from '../observe/host.js';
import { liveCheck } from '../observe/live.js';
import { planAttach } from '../plan/attach.js';
import { attachInput } from '../plan/attach-input.js';
import { loadRecords, recordMatches, recordPath } from '../records.js';
import { unfinishedTouching, type Plan } from '../runner.js';
import { parseAttachRequest } from '../request/parse.js';
import type { AttachRequest } from '../request/types.js';
import { SCHEMA } from '../state.js';
import { executePlan } from '../cli/execute.js';
import { lockAndLook, selectorKey } from '../cli/attach-look.js';
import type { Ctx } from '../cli/context.js';
import { cniRecords, cniTarget } from './attachments.js';
import { delegateIpam } from './ipam.js';
import { addResult, CniError, CODE, ipamWords, type CniConfig, type CniEnv, type CniNic, type CniResultDoc } from './protocol.js';

/** The NIC as `hostnic attach` names it; `kernelpath` is the netdev under that sysfs device. */
function nicWord(nic: CniNic): string {
  switch (nic.kind) {
    case 'name': return nic.name;
    case 'mac': return `mac:${nic.mac}`;
    case 'pci': return `pci:${nic.address}`;
    case 'kernelpath': {
      let names: string[] = [];
      try { names = readdirSync(join(nic.path, 'net')); } catch { /* none */ }
      if (names.length !== 1) throw new CniError(CODE.nic, `kernelpath ${nic.path} has ${names.length ? `${names.length} network devices (${names.join(', ')})` : 'no network device'}`);
      return names[0]!;
    }
  }
}

/** The attach request of this ADD: a config or IPAM result hostnic would refuse is code 7, nothing changed. */
function request(env: CniEnv, cfg: CniConfig, ipam: CniResultDoc | undefined): AttachRequest {
  const words = ipam ? ipamWords(ipam) : { addresses: [], routes: [] };
  try {
    return parseAttachRequest({
      container: env.netns, nic: nicWord(cfg.nic!), addresses: words.addresses, routes: words.routes,
      name: env.ifname, mac: cfg.mac, mtu: cfg.mtu, force: false,
    });
  } catch (e) {
    if (e instanceof UsageError) throw new CniError(CODE.invalidConfig, e.message, e.hint);
    throw e;
  }
}

/** ADD: the result document to print. */
export async function cniAdd(env: CniEnv, cfg: CniConfig, stdin: string, ctx: Ctx): Promise<CniResultDoc> {
  // A second ADD of the same attachment: the same result while it is in place.
  const [mine] = cniRecords(ctx, env, cfg.name);
  if (mine) {
    const live = await liveCheck(mine);
    if (live.status === 'in place') return mine.cni!.result as CniResultDoc;
    throw new CniError(CODE.nic, `${env.ifname} of container ${env.containerId} was added already, but ${live.detail}`, 'DEL it, then ADD again');
  }
  const ipam = await delegateIpam('ADD', cfg, stdin, env);
  try {
    return await attach(env, cfg, ipam, ctx);
  } catch (e) {
    // Rolled back: nothing of ours is left, give the address back (the spec: IPAM DEL after a failed
    // ADD). A rollback left incomplete may have left the address on the NIC: keep the allocation, so
    // IPAM hands it to no other container; the runtime's DEL (or recover, then DEL) releases it.
    const incomplete = e instanceof CniError && e.code === CODE.incomplete;
    if (incomplete && ipam) ctx.say('the rollback is incomplete: the IPAM allocation is kept until DEL');
    if (ipam && !incomplete) {
      await delegateIpam('DEL', cfg, stdin, env).catch((d: unknown) => {
        ctx.say(`releasing the IPAM allocation after the failed ADD failed too: ${(d as Error).message}`);
      });
    }
    throw e;
  } finally {
    ctx.locks.release();
  }
}

async function attach(env: CniEnv, cfg: CniConfig, ipam: CniResultDoc | undefined, ctx: Ctx): Promise<CniResultDoc> {
  const req = request(env, cfg, ipam);
  let target;
  try {
    target = await cniTarget(env, cfg.name);
  } catch (e) {
    if (e instanceof HostnicError) throw new CniError(CODE.unknownContainer, `CNI_NETNS: ${e.message}`);
    throw e;
  }
  const { target: t, hostState, ctrState, link } = await lockAndLook(ctx, req, target, () => cniTarget(env, cfg.name));
  if (!link) {
    const unfinished = unfinishedTouching(ctx.state, [selectorKey(req.nic)]);
    if (unfinished) throw new CniError(CODE.tryAgain, unfinished.message, unfinished.hint);
    const rec = loadRecords(ctx.state).records.find((r) => recordMatches(r, req.nic));
    if (rec) throw new CniError(CODE.nic, `${describeSelector(req.nic)} is attached to ${rec.input.target.display} as ${rec.input.ctrName}`);
    throw new CniError(CODE.nic, nicNotFound(req.nic, hostLinks(hostState)).message);
  }
  const id = randomBytes(4).toString('hex');
  let input;
  try {
    input = attachInput(id, req, t, { link, host: hostNicState(link, hostState), hostState, ctrState });
  } catch (e) {
    if (e instanceof UsageError) throw new CniError(CODE.nic, e.message, e.hint);
    throw e;
  }
  const { host, ctrName } = input;
  const result = addResult(cfg.cniVersion, {
    ifname: ctrName, mac: req.mac ?? host.mac, mtu: req.mtu ?? host.mtu, sandbox: env.netns, ...(host.parentdev ? { pciID: host.parentdev } : {}),
  }, ipam, cfg.prevResult);
  const cni = { containerId: env.containerId, network: cfg.name, ifname: env.ifname, result };
  const plan: Plan = {
    id,
    command: 'attach',
    title: `Attach ${host.name} to ${t.display} as ${ctrName}`,
    steps: planAttach(input),
    touches: [host.name, host.mac],
    finalize: {
      write: [{ path: recordPath(id), value: { schema: SCHEMA, kind: 'attachment', id, createdAt: new Date().toISOString(), input, cni }, saved: true }],
    },
  };
  const outcome = await executePlan(plan, ctx);
  if (outcome.exitCode === EXIT.ok) return result;
  const why = outcome.error?.message ?? (outcome.signal ? `interrupted by ${outcome.signal}` : 'failed');
  if (outcome.leftovers.length) throw new CniError(CODE.incomplete, `ADD failed (${why}) and its rollback is incomplete`, 'run `hostnic recover`');
  throw new CniError(CODE.rolledBack, `ADD failed, every change was rolled back: ${why}`);
}
