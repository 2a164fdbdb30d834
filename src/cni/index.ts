/**
 * hostnic as a CNI plugin: bin/hostnic runs this instead of the command line
 * when CNI_COMMAND is set and there are no arguments (src/main.ts). stdout
 * carries the protocol only (a result, the VERSION document or an error
 * document); everything said to a person goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { HostnicError, RefusedError, UsageError } from '../errors.js';
import type { Ctx } from '../cli/context.js';
import { cniAdd } from './add.js';
import { cniContext, cniRecords, recordFromNetns, release } from './attachments.js';
import { cniCheck, cniGc, cniStatus } from './check.js';
import { delegateIpam } from './ipam.js';
import { CniError, CODE, errorDoc, parseConfig, parseEnv, SPEC_VERSION, versionDoc, versionKnown, type CniConfig, type CniEnv } from './protocol.js';

/** DEL: give the NIC back (wherever it is now), then release the IPAM allocation. Nothing to give back is success. */
async function cniDel(env: CniEnv, cfg: CniConfig, stdin: string, ctx: Ctx): Promise<void> {
  const recs = cniRecords(ctx, env, cfg.name);
  if (recs.length === 0) {
    const fromTag = await recordFromNetns(env, cfg.name);
    if (fromTag) recs.push(fromTag);
  }
  for (const rec of recs) await release(rec, ctx);
  await delegateIpam('DEL', cfg, stdin, env);
}

/** Any failure as the spec's error: a lock or an unfinished plan is "try again later". */
function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof RefusedError) return new CniError(CODE.tryAgain, e.message, e.hint);
  if (e instanceof UsageError) return new CniError(CODE.nic, e.message, e.hint);
  if (e instanceof HostnicError) return new CniError(CODE.rolledBack, e.message, e.hint);
  const err = e as Error;
  return new CniError(CODE.rolledBack, `internal error: ${err.message}`, process.env.HOSTNIC_DEBUG ? err.stack : undefined);
}

export async function cniMain(): Promise<void> {
  let version: string = SPEC_VERSION;
  try {
    const env = parseEnv(process.env);
    if (env.command === 'VERSION') {
      process.stdout.write(versionDoc());
      return;
    }
    let stdin: string;
    try {
      stdin = readFileSync(0, 'utf8');
    } catch (e) {
      throw new CniError(CODE.io, `cannot read the network configuration on stdin: ${(e as Error).message}`);
    }
    // Errors answer in the request's version when it is one hostnic speaks.
    const asked = /"cniVersion"\s*:\s*"([^"]*)"/.exec(stdin)?.[1];
    if (asked && versionKnown(asked)) version = asked;
    const cfg = parseConfig(stdin, env.command);
    if (process.getuid?.() !== 0) throw new CniError(CODE.notAvailable, 'hostnic must run as root (it moves network devices between namespaces)');
    const ctx = cniContext();
    switch (env.command) {
      case 'ADD':
        process.stdout.write(`${JSON.stringify(await cniAdd(env, cfg, stdin, ctx))}\n`);
        return;
      case 'DEL': return await cniDel(env, cfg, stdin, ctx);
      case 'CHECK': return await cniCheck(env, cfg, stdin, ctx);
      case 'GC': return await cniGc(env, cfg, stdin, ctx);
      case 'STATUS': return cniStatus(env, cfg, ctx);
    }
  } catch (e) {
    const err = asCniError(e);
    process.stderr.write(`hostnic: ${err.message}${err.details ? ` (${err.details})` : ''}\n`);
    process.stdout.write(errorDoc(err, version));
    process.exitCode = 1;
  }
}
