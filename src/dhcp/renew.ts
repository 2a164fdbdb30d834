/** A lease renewed or bound again while attached (phase 2: applied through the runner). */
import type { DhcpLease } from './lease.js';

export async function renewed(_path: string, _lease: DhcpLease): Promise<void> {
  // Filled in by the renewal change.
}
