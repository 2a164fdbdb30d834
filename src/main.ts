/**
 * The hostnic command line. Command modules are imported only when their
 * command runs, so `hostnic status` does not load the attach planner.
 *
 * bin/hostnic runs the bundle of this module (scripts/bundle.mjs) and calls
 * main().
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT, HostnicError } from './errors.js';
import type { Ctx, GlobalOptions } from './cli/context.js';

const EXIT_CODES = `Exit codes:
  0  done (including "already attached" and "nothing to do")
  1  failed, and every change was rolled back (or refused: an unfinished plan needs \`hostnic recover\`)
  2  invalid request, or it names a NIC, container, process or namespace that does not exist: nothing was changed
  3  incomplete: a rollback that could not finish, or a detach that brought the NIC home without all of
     the host's settings; what is left and the commands to finish it by hand are printed
  129/130/143  interrupted by SIGHUP/SIGINT/SIGTERM, after rolling back`;

declare const __HOSTNIC_VERSION__: string;
/** Set by the bundler from package.json (see scripts/bundle.mjs). */
const VERSION = typeof __HOSTNIC_VERSION__ === 'string' ? __HOSTNIC_VERSION__ : 'dev';

const ROOT_MESSAGE = 'hostnic must run as root (it moves network devices between namespaces)';

function fail(message: string, hint?: string, code: number = EXIT.usage): never {
  process.stderr.write(`hostnic: ${message}\n`);
  if (hint) process.stderr.write(`hint: ${hint}\n`);
  process.exit(code);
}

/** The modules of the commands, each imported when its command runs. */
const load = {
  context: () => import('./cli/context.js'),
  attach: () => import('./commands/attach.js'),
  detach: () => import('./commands/detach.js'),
  status: () => import('./commands/status.js'),
  completion: () => import('./commands/completion.js'),
  complete: () => import('./commands/complete.js'),
  nics: () => import('./commands/nics.js'),
  doctor: () => import('./commands/doctor.js'),
  recover: () => import('./commands/recover.js'),
  apply: () => import('./commands/apply.js'),
  schema: () => import('./commands/schema.js'),
  watch: () => import('./commands/watch.js'),
};

/** bin/hostnic-dhcp: the DHCP client's event script, and `stop` (src/dhcp/script.ts). */
export async function dhcp(args: string[]): Promise<void> {
  const { dhcpScript } = await import('./dhcp/script.js');
  process.exitCode = await dhcpScript(args);
}

async function withCtx(argv: GlobalOptions, fn: (ctx: Ctx) => Promise<number>): Promise<void> {
  if (process.getuid?.() !== 0) fail(ROOT_MESSAGE);
  const { makeContext } = await load.context();
  const code = await fn(makeContext(argv));
  process.exitCode = code;
}

function globals(y: Argv): Argv<GlobalOptions> {
  return y
    .option('state-dir', { type: 'string', describe: 'state directory (env HOSTNIC_STATE_DIR)', default: undefined, defaultDescription: '/run/hostnic', global: true })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'print every command with its duration', global: true })
    .option('dry-run', { alias: 'n', type: 'boolean', describe: 'print the plan and its exact commands; change nothing', global: true })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print errors only', global: true })
    .option('json', { type: 'boolean', describe: 'one JSON document on stdout', global: true })
    .option('color', { type: 'boolean', describe: 'colour (--no-color, NO_COLOR, FORCE_COLOR)', global: true }) as Argv<GlobalOptions>;
}

export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  // A CNI runtime runs its plugins with CNI_COMMAND set and no arguments: hostnic is then a CNI plugin (src/cni).
  if (process.env.CNI_COMMAND !== undefined && argv.length === 0) return (await import('./cni/index.js')).cniMain();
  const cli = globals(yargs(argv))
    .scriptName('hostnic')
    .usage('$0 <command> [options]\n\nHand a host NIC to a container (SDN passthrough), reversibly.')
    .command(
      'attach <container> <nic> [addresses..]',
      'move a host NIC into a container and configure it',
      (y) => y
        .positional('container', { type: 'string', describe: 'pid:PID, netns:NAME, a netns path, docker:NAME, podman:NAME, containerd:[NS/]ID, or a container name', demandOption: true })
        .positional('nic', { type: 'string', describe: 'interface name, mac:ADDRESS or pci:BUS-ID', demandOption: true })
        .positional('addresses', { type: 'string', array: true, describe: 'IP/PREFIX[@GATEWAY], IPv4 or IPv6, several allowed; dhcp: an IPv4 lease, renewed while attached' })
        .option('name', { type: 'string', describe: 'interface name in the container (default: first free ethN)' })
        .option('mac', { type: 'string', describe: 'set this MAC (clouds usually drop frames from other MACs)' })
        .option('mtu', { type: 'string', describe: "set this MTU (within the NIC's own range)" })
        .option('route', { type: 'string', array: true, describe: 'extra route CIDR[@VIA] through the NIC (repeatable)' })
        .option('force', { type: 'boolean', describe: "allow moving the NIC that carries the host's default route" })
        .option('persist', { type: 'boolean', describe: 'also write the entry in the desired-state file, so hostnic apply/watch attach it again (e.g. after a restart)' })
        .option('macvlan', { type: 'boolean', describe: 'give the container a macvlan child of the NIC instead; the NIC stays in the host (L2 networks you control)' })
        .option('macvlan-mode', { type: 'string', describe: 'with --macvlan: bridge (default), private or vepa' })
        .option('dhcp-timeout', { type: 'string', describe: 'with dhcp: seconds to wait for the first lease (default 10)' })
        .example('$0 attach nginx eth1 dhcp', "nginx gets eth1 with the address, router, routes and MTU of the cloud's DHCP")
        .example('$0 attach nginx eth1 192.168.1.4/24@192.168.1.1', 'nginx gets eth1 of the VM as its eth1, default route via the VPC gateway')
        .example('$0 attach pid:4242 mac:52:54:00:12:34:56 192.168.1.4/24@192.168.1.1 --name cloud0', 'select the NIC by MAC, name it cloud0')
        .example('$0 attach nginx eth2 192.168.1.5/24 --route 10.8.0.0/16@192.168.1.1', 'no default route change, one extra route')
        .example('$0 attach web eth0 --macvlan 192.168.1.20/24@192.168.1.1', 'web gets a macvlan child of eth0 (eth0 stays in the host)')
        .epilog(EXIT_CODES),
      (a) => withCtx(a, async (ctx) => (await load.attach()).attachCommand(a as never, ctx)),
    )
    .command(
      'detach <container> [nic]',
      'give NICs back to the host, as they were',
      (y) => y
        .positional('container', { type: 'string', demandOption: true, describe: 'the container, as for attach (also when it is gone)' })
        .positional('nic', { type: 'string', describe: 'host name, container-side name or mac:ADDRESS (default: every NIC hostnic attached to it)' })
        .option('force', { type: 'boolean', describe: 'restore what the record says even where the tag on the NIC disagrees (default: refuse, and say where)' })
        .option('keep', { type: 'boolean', describe: 'keep its entry in the desired-state file (it is attached again at that container\'s next start)' })
        .example('$0 detach nginx', 'every NIC hostnic gave to nginx goes back to the host')
        .example('$0 detach nginx eth1', 'only that one')
        .epilog(EXIT_CODES),
      (a) => withCtx(a, async (ctx) => (await load.detach()).detachCommand(a as never, ctx)),
    )
    .command(
      'status',
      'what is attached where, verified against the kernel',
      (y) => y
        .option('scan', { type: 'boolean', describe: 'also look in every namespace on the host for NICs hostnic tagged that have no record (done anyway when a state file is unreadable)' })
        .example('$0 status --json', 'for scripts')
        .example('$0 status --scan', 'after the state directory was lost: find the NICs by their tags')
        .epilog(EXIT_CODES),
      (a) => withCtx(a, async (ctx) => (await load.status()).statusCommand(ctx, { scan: !!(a as { scan?: boolean }).scan })),
    )
    .command(
      'completion [shell]',
      'print the completion script of a shell (bash, zsh or fish)',
      (y) => y
        .positional('shell', { type: 'string', choices: ['bash', 'zsh', 'fish'], describe: 'the shell (default: the one $SHELL names)' })
        .example('source <($0 completion bash)', 'bash, this shell')
        .example('$0 completion zsh > "${fpath[1]}/_hostnic"', 'zsh, new shells')
        .example('$0 completion fish | source', 'fish, this shell')
        .epilog('To keep them, save the output as /usr/share/bash-completion/completions/hostnic (bash), '
          + '_hostnic in a directory of $fpath (zsh) or ~/.config/fish/completions/hostnic.fish (fish). '
          + "The same files are in the package's completions/ directory."),
      // No root needed: it only prints a file.
      async (a) => { process.exitCode = (await load.completion()).completionCommand(a.shell); },
    )
    .command({
      // Hidden: the dynamic values of the completion scripts. Any user's shell
      // calls it; it prints what it can read and never an error.
      command: '__complete [what] [args..]',
      describe: false,
      builder: (y) => y
        .positional('what', { type: 'string', describe: 'containers | nics | attached-containers | attached-nics [<container>] | unfinished-plans' })
        .positional('args', { type: 'string', array: true })
        .strict(false),
      handler: async (a) => (await load.complete())
        .completeCommand(String(a.what ?? ''), (a.args ?? []).map(String), a.stateDir),
    })
    .command(
      'nics',
      "the host's NICs: role (primary, secondary, attached to a container), managers, ARP settings",
      (y) => y
        .example('$0 nics', 'eth0 primary; eth1, eth2 secondary: who manages them, arp_ignore/arp_announce; attached ones with their container')
        .example("$0 nics --json | jq -r '.[] | select(.role == \"secondary\") | .name'", 'the NICs free to attach')
        .epilog('--json prints an array of objects with stable fields (README.md, "nics").'),
      (a) => withCtx(a, async (ctx) => (await load.nics()).nicsCommand(ctx)),
    )
    .command(
      'doctor [nics..]',
      'check the host for what breaks passthrough (ARP flux, NetworkManager, networkd, DHCP clients, Docker subnets, unfinished plans); --fix fixes it, reversibly',
      (y) => y
        .positional('nics', { type: 'string', array: true, describe: 'limit the per-NIC checks to these NICs (default: every secondary NIC)' })
        .option('fix', { type: 'boolean', describe: 'apply the fixes of failing and warning checks as one plan (rolled back on failure) and record them' })
        .option('undo', { type: 'boolean', describe: 'revert every recorded fix: previous sysctl values, files removed or restored, NetworkManager as before' })
        .option('force', { type: 'boolean', describe: 'with --undo: also put back what was changed by hand after the fix (default: leave it, and say so)' })
        .conflicts('fix', 'undo')
        .example('$0 doctor', 'e.g. eth1, a second NIC on 192.168.1.0/24: "fail arp-flux" (arp_ignore=0), "fail networkmanager" (NetworkManager manages eth1)')
        .example('$0 doctor --fix --dry-run', 'the fix steps and their exact commands: sysctl -w, the sysctl.d and NetworkManager conf.d files, nmcli')
        .example('$0 doctor --fix', 'arp_ignore=1 and arp_announce=2 now and at boot, NetworkManager leaves eth1 alone (nmcli + conf.d), then checks again')
        .example('$0 doctor --undo', 'put back exactly what --fix changed (what was changed by hand since stays, unless --force)')
        .example('$0 doctor eth1 --json', 'the checks about eth1 (and the host-wide ones), for scripts')
        .epilog([
          'Exit codes:',
          '  0  every check passes (after --fix: nothing is left to fix); --undo: undone, or nothing to undo',
          '  1  problems remain (a check warns or fails), or a fix failed and every change was rolled back',
          '  2  invalid request (--fix with --undo, a NIC that is not here): nothing was changed',
          '  3  rollback incomplete: what is left and the commands to fix it are printed',
        ].join('\n')),
      (a) => withCtx(a, async (ctx) => (await load.doctor()).doctorCommand(a as never, ctx)),
    )
    .command(
      'recover',
      'finish every plan a dead hostnic left half-done (undo it, or complete it when only the record was missing)',
      (y) => y
        .option('abandon', {
          type: 'string', requiresArg: true, describe: 'drop the unfinished plan with this id (`hostnic status` lists them) instead, for one a person settled by hand: its NICs are released, nothing on the system is changed; or clear an incomplete restore whose commands you ran',
        })
        .example('$0 recover', 'undo what a killed hostnic left half-done; run again, it says "nothing to recover"')
        .example('$0 recover --abandon 3f9c2a1b', 'forget plan 3f9c2a1b (you put its NIC back yourself)')
        .epilog(EXIT_CODES),
      (a) => withCtx(a, async (ctx) => (await load.recover()).recoverCommand(ctx, { abandon: (a as { abandon?: string }).abandon })),
    )
    .command(
      'apply',
      'make the machine as the desired-state file says: attach what is missing, repair drift, change nothing that is in place',
      (y) => y
        .option('file', { alias: 'f', type: 'string', describe: 'the desired-state file', defaultDescription: '/etc/hostnic/attachments.yaml (under HOSTNIC_CONFIG_ROOT)' })
        .option('prune', { type: 'boolean', describe: 'also detach what hostnic attached that no entry wants (without it: listed)' })
        .option('container', { type: 'string', array: true, describe: 'only the entries of this container, as the file names it (repeatable)' })
        .example('$0 apply', 'attach every entry whose container runs; in-place entries change nothing')
        .example('$0 apply --dry-run', 'what would change, with the exact commands')
        .example('$0 apply --prune --json', 'also detach attachments no entry wants; one result per entry')
        .epilog([
          'Exit codes:',
          '  0  every entry whose container runs is in place (the others are listed as waiting)',
          '  1  an entry failed (its plan was rolled back) or names a NIC that is not on the host; the others were applied',
          '  2  a bad desired-state file (FILE:LINE: what is wrong): nothing was changed',
          '  3  a rollback or a prune\'s detach is incomplete: what is left and the commands to finish it are printed',
          '  129/130/143  interrupted: the plans in flight were finished or rolled back, no new one started',
        ].join('\n')),
      (a) => withCtx(a, async (ctx) => (await load.apply()).applyCommand(a as never, ctx)),
    )
    .command(
      'schema',
      'print the JSON Schema of the desired-state file (/etc/hostnic/attachments.yaml), for editors',
      (y) => y.example('$0 schema > /etc/hostnic/attachments.schema.json', 'for an editor that validates YAML against a JSON Schema'),
      // No root needed: it only prints.
      async () => { process.exitCode = (await load.schema()).schemaCommand(); },
    )
    .command(
      'watch',
      'keep the desired file applied: re-attach NICs as containers start and restart, give returned NICs their host identity back (runs until SIGTERM; see hostnic.service)',
      (y) => y
        .option('file', { alias: 'f', type: 'string', describe: 'the desired-state file', defaultDescription: '/etc/hostnic/attachments.yaml' })
        .option('resync', { type: 'number', describe: 'seconds between two full resyncs (0: only at start, after a reconnect and on file changes)', default: 300 })
        .example('$0 watch', 'follow Docker, Podman and containerd; log one line per action on stderr')
        .example('$0 watch --json', 'the same log as JSON lines on stdout')
        .epilog([
          'Exit codes:',
          '  0  stopped by SIGTERM, SIGINT or SIGHUP (a plan in progress finished or was rolled back first)',
          '  2  a bad desired file at start, a bad option, or another hostnic watch runs on this state directory (its pid is named)',
        ].join('\n')),
      (a) => withCtx(a, async (ctx) => (await load.watch()).watchCommand(a as never, ctx)),
    )
    .demandCommand(1, 'name a command: attach, detach, status, apply, watch, recover, nics, doctor (see --help)')
    .strict()
    .recommendCommands()
    .epilog(EXIT_CODES)
    // Wrap to the terminal; piped help stays unwrapped so examples are whole lines.
    .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns) : null)
    // Never prints yargs' help: a usage error is one line and a hint.
    .fail((msg, err) => {
      if (err) throw err;
      fail(msg.split('\n')[0] ?? 'invalid command line', 'see hostnic --help');
    })
    .help()
    .version(VERSION);
  try {
    await cli.parseAsync();
  } catch (e) {
    if (e instanceof HostnicError) fail(e.message, e.hint, e.exitCode);
    const err = e as Error;
    fail(`internal error: ${err.message}`, process.env.HOSTNIC_DEBUG ? err.stack : 'set HOSTNIC_DEBUG=1 for a stack trace', EXIT.rolledBack);
  }
}

