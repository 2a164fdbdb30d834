/**
 * bin/hostnic-dhcp: udhcpc's event script, and `stop`.
 *
 * - `bound` / `renew` (udhcpc's environment holds the lease): the lease is
 *   written to the lease file named by HOSTNIC_DHCP_LEASE. At attach, the
 *   attach's own `dhcp.lease` step reads it and applies it; later (the
 *   attachment is recorded), a lease that changed what is applied is applied
 *   again through the runner (dhcp/renew.ts).
 * - `stop LEASE-FILE`: release the lease and stop its client
 *   (dhcp/client.ts), then remove the lease, pid and note files. What the
 *   `dhcp.*` steps' undo runs; a person may run it too.
 */
import { rmSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { LEASE_ENV, noteFileOf, pidFileOf, stopClients } from './client.js';
import { noteRenewal } from './status.js';
import { leaseFromEnv, LeaseError } from './lease.js';
import { LEASE_FILE } from '../steps/validate-dhcp.js';
import { heldByAnother, WATCH_KEY } from '../runner/locks.js';
import { StateDir } from '../state.js';

function leaseFile(v: string | undefined, what: string): string {
  if (!v || !isAbsolute(v) || !LEASE_FILE.test(v) || v.split('/').some((c) => c === '.' || c === '..')) {
    throw new LeaseError(`${what} ${JSON.stringify(v ?? '')} is not a lease file of hostnic (<state>/dhcp/<hex>.json)`);
  }
  return v;
}

export async function dhcpScript(args: string[]): Promise<number> {
  const [what, arg] = args;
  try {
    if (what === 'stop') {
      const path = leaseFile(arg, 'stop:');
      await stopClients(path);
      rmSync(path, { force: true });
      rmSync(pidFileOf(path), { force: true });
      rmSync(noteFileOf(path), { force: true });
      return 0;
    }
    const path = leaseFile(process.env[LEASE_ENV], LEASE_ENV);
    let lease;
    try {
      lease = leaseFromEnv(process.env, Date.now() / 1000);
    } catch (e) {
      if (e instanceof LeaseError) noteRenewal(path, `the server's lease was not taken: ${e.message}`);
      throw e;
    }
    // Atomically (StateDir.writeJson): status, the keeper and the steps never read half a lease.
    new StateDir(dirname(dirname(path))).writeJson(path, lease, { syncDir: false });
    // A lease that changed is applied from the host's side by a running `hostnic watch` (its keeper
    // reads this file): this process runs in the container's pid namespace, where the container could
    // stop it while it holds the NIC's locks. With no watch, it is applied here.
    if ((what === 'renew' || what === 'bound') && !await heldByAnother(new StateDir(dirname(dirname(path))), WATCH_KEY)) {
      const { renewed } = await import('./renew.js');
      let done: string | undefined;
      try {
        done = await renewed(path, lease);
      } catch (e) {
        done = `not applied: ${(e as Error).message}`; // a lock held too long, the namespace gone meanwhile
      }
      noteRenewal(path, done === 'applied' ? undefined : done);
      if (done && done !== 'applied') process.stderr.write(`hostnic-dhcp: ${done}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`hostnic-dhcp: ${(e as Error).message}\n`);
    return 1;
  }
}
