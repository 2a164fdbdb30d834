/**
 * IPAM, delegated as the spec says: the plugin that `ipam.type` names is
 * found in CNI_PATH and run with hostnic's own environment (CNI_COMMAND
 * set to the command delegated) and the same network configuration on
 * stdin. Its result is parsed here; the addresses and routes are applied
 * by hostnic's own steps (src/cni/add.ts).
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CommandError } from '../errors.js';
import { run } from '../exec.js';
import { CniError, CODE, type CniConfig, type CniEnv, type CniResultDoc } from './protocol.js';

/** The IPAM plugin's executable in CNI_PATH, or undefined. */
export function findPlugin(type: string, path: readonly string[]): string | undefined {
  for (const dir of path) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Run the IPAM plugin for `command`; ADD returns its result, the others nothing. No `ipam` section: nothing to do. */
export async function delegateIpam(command: 'ADD' | 'DEL' | 'CHECK' | 'GC', cfg: CniConfig, stdin: string, env: CniEnv): Promise<CniResultDoc | undefined> {
  if (!cfg.ipam) return undefined;
  const type = cfg.ipam.type;
  const bin = findPlugin(type, env.path);
  if (!bin) {
    throw new CniError(CODE.ipam, `IPAM plugin "${type}" not found in CNI_PATH (${env.path.join(':') || 'empty'})`);
  }
  let out: string;
  try {
    // The dhcp plugin may wait for a lease: give it longer than a command.
    out = await run({ argv: [bin], input: stdin, env: { CNI_COMMAND: command }, timeoutMs: 120_000 });
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    let doc: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
    try { doc = JSON.parse(e.stdout) as typeof doc; } catch { /* not an error document */ }
    if (doc && typeof doc.code === 'number' && typeof doc.msg === 'string') {
      throw new CniError(doc.code, `IPAM plugin ${type} (${command}): ${doc.msg}`, typeof doc.details === 'string' ? doc.details : undefined);
    }
    throw new CniError(CODE.ipam, `IPAM plugin ${type} (${command}) failed: ${e.message}`);
  }
  if (command !== 'ADD') return undefined;
  try {
    const doc = JSON.parse(out) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as CniResultDoc;
  } catch (e) {
    throw new CniError(CODE.ipam, `IPAM plugin ${type} gave no JSON result: ${(e as Error).message}`);
  }
}
