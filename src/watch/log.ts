/**
 * hostnic watch's log: one line per action, for journald and for people
 * reading `journalctl -u hostnic`. No colours, no progress display. Text on
 * stderr (`watch: attached nic1 to docker:web as eth1`), or with --json one
 * JSON object per line on stdout, with the same fields every time:
 * `{"time","event","message"}` plus what the event is about.
 */
export type WatchEvent =
  | 'started' | 'stopping' | 'stopped'
  | 'recovered' | 'recover-failed'
  | 'runtime-up' | 'runtime-down'
  | 'container' | 'resync'
  | 'in-place' | 'attached' | 'repaired' | 'skipped' | 'failed' | 'besides'
  | 'restored' | 'destroyed' | 'waiting'
  | 'desired-loaded' | 'desired-bad' | 'desired-missing' | 'entry-removed'
  | 'dhcp-restarted' | 'dhcp-stopped' | 'dhcp-renewed'
  | 'error';

export interface Logger {
  (event: WatchEvent, message: string, fields?: Record<string, unknown>): void;
}

export function makeLogger(json: boolean, out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): Logger {
  if (json) {
    return (event, message, fields = {}) => {
      out.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, message, ...fields })}\n`);
    };
  }
  return (_event, message) => {
    out.stderr.write(`watch: ${message.replace(/\n/g, ' ')}\n`);
  };
}
