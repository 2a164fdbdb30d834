/**
 * Exit codes, and the error types that carry them. Every failure that reaches
 * the top of the CLI is one of these, so the exit code is decided in one place.
 */
export const EXIT = {
  ok: 0,
  /** The plan failed and every completed step was undone. */
  rolledBack: 1,
  /** Invalid request, or it names something that does not exist: nothing was changed. */
  usage: 2,
  /** Rollback incomplete: something is left; the message says what and how to fix it. */
  incomplete: 3,
  sighup: 129,
  sigint: 130,
  sigterm: 143,
} as const;

/** The exit code of a run a signal interrupted (after its plans finished or rolled back). */
export const signalExit = (s: NodeJS.Signals): number => (s === 'SIGINT' ? EXIT.sigint : s === 'SIGTERM' ? EXIT.sigterm : EXIT.sighup);

export class HostnicError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input or a missing object (NIC, container, namespace): exit 2, nothing changed. */
export class UsageError extends HostnicError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint);
  }
}

/**
 * The container runtime a target names does not answer (its daemon is down,
 * restarting, or not installed): a usage error for a command, a wait for
 * `hostnic watch` (the runtime's events coming back bring a resync).
 */
export class RuntimeDown extends UsageError {}

/**
 * The container named is not running, or not there (yet): exit 2 for a
 * command, but for the desired state an entry that waits for its start.
 */
export class NotRunning extends UsageError {}

/** A refusal after looking at the system (NIC busy, unfinished plan): exit 1, nothing changed. */
export class RefusedError extends HostnicError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.rolledBack, hint);
  }
}

/** A command run through exec.ts failed. Carries the argv and stderr. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    /** Killed (a timeout, a signal) while it ran: it may have done some or all of its work. */
    readonly cutShort = false,
    /** What it printed on stdout (a CNI plugin's error document). */
    readonly stdout = '',
  ) {
    const detail = stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${exitCode}`;
    super(`${argv.join(' ')}: ${detail}`);
    this.name = 'CommandError';
  }
}
