// The stack floor (issue 13's apply targets): the least a program built on
// hostnic's stack does for `apply`, to measure what the stack itself costs
// before any of hostnic's own work. Bundled at bench time like hostnic
// (esbuild, one minified CommonJS file), and run as a contender:
//
//   in-place FILE    yargs parses the command line, `yaml` the desired file,
//                    the state directory's records are read; then per entry,
//                    8 at a time: Docker's GET /containers/NAME/json over
//                    node:http, one `nsenter ip -d -json -batch -` read of the
//                    container's namespace through execa (or bare
//                    child_process.spawn with --bare), and the record's tag
//                    looked for. No lock, journal, validation or comparison.
//   attach FILE      the same start, then per entry (8 at a time) the guarded
//                    floor's commands, one execa each: both reads, the host
//                    batch (down, move), the sysctls, the container batch.
//                    With --session: one `ip -batch -` kept open for the host
//                    and one per container, fed line by line (a sentinel read
//                    marks each group done); the sysctls stay a process.
//
// Not hostnic: nothing here checks what it changes. Exit 1 if a check fails.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import yargs from 'yargs';

const READ = 'link show\naddr show\nroute show table all\nneigh show nud permanent\n';

function docker(path) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: '/var/run/docker.sock', path, agent: false, headers: { Host: 'localhost' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

function bare(argv, input) {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), { detached: true, env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.resume();
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')}: exit ${code}`))));
    c.stdin.end(input ?? '');
  });
}

async function cmd(argv, input, useBare) {
  if (useBare) return bare(argv, input);
  const r = await execa(argv[0], argv.slice(1), { input, reject: false, stripFinalNewline: false, env: { LC_ALL: 'C' }, detached: true, timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * One `ip -json -batch -` kept open: send(lines, reads) resolves with the output once
 * the `reads` answers and a sentinel read's came (with -json a read answers one line,
 * a change nothing).
 */
function session(prefix) {
  const argv = [...prefix, 'ip', '-force', '-json', '-batch', '-'];
  const sub = execa(argv[0], argv.slice(1), { env: { LC_ALL: 'C' }, detached: true, buffer: false });
  const lines = [];
  const waiting = [];
  let partial = '';
  sub.stdout.setEncoding('utf8');
  sub.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    lines.push(...parts);
    while (waiting.length && lines.length >= waiting[0].n) {
      const w = waiting.shift();
      w.resolve(lines.splice(0, w.n));
    }
  });
  // With -force a failed line does not stop ip: any error text fails the session when it closes.
  let errors = '';
  sub.stderr.on('data', (d) => { errors += d; });
  return {
    send: (text, reads = 0) => new Promise((resolve) => { waiting.push({ n: reads + 1, resolve }); sub.stdin.write(`${text}link show dev lo\n`); }),
    close: async () => {
      sub.stdin.end();
      await sub;
      if (errors) throw new Error(`${argv.join(' ')}: ${errors.trim()}`);
    },
  };
}

async function main() {
  const argv = await yargs(process.argv.slice(2))
    .command('in-place <file>', 'read every entry')
    .command('attach <file>', 'attach every entry')
    .option('bare', { type: 'boolean' })
    .option('session', { type: 'boolean' })
    .demandCommand(1)
    .strict()
    .parseAsync();
  const entries = parseDocument(readFileSync(argv.file, 'utf8')).toJS().attachments;
  const dir = `${process.env.HOSTNIC_STATE_DIR}/attachments`;
  const records = argv._[0] === 'in-place' ? readdirSync(dir).map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))) : [];
  const host = argv.session ? session([]) : undefined;
  let failed = 0;
  const one = async (e) => {
    const pid = (await docker(`/containers/${e.container.replace(/^docker:/, '')}/json`)).State.Pid;
    const ns = ['nsenter', `--net=/proc/${pid}/ns/net`, '--'];
    if (argv._[0] === 'in-place') {
      const links = JSON.parse((await cmd([...ns, 'ip', '-d', '-json', '-batch', '-'], READ, argv.bare)).split('\n')[0]);
      const rec = records.find((r) => r.input.host.name === e.nic);
      if (!rec || !links.some((l) => (l.ifalias ?? '').includes(rec.id))) failed++;
      return;
    }
    const [address, gw] = e.addresses[0].split('@');
    const move = `link set dev ${e.nic} down\nlink set dev ${e.nic} netns /proc/${pid}/ns/net\n`;
    const conf = `link set dev ${e.nic} name eth1\naddr add ${address} dev eth1\nlink set dev eth1 up\nroute replace default via ${gw} dev eth1\n`;
    const sysctl = [...ns, 'sysctl', '-q', '-w', `net/ipv4/conf/${e.nic}/arp_notify=1`, `net/ipv6/conf/${e.nic}/ndisc_notify=1`];
    if (argv.session) {
      const ctr = session(ns);
      await Promise.all([host.send(READ, 4), ctr.send(READ, 4)]);
      await host.send(move);
      await cmd(sysctl);
      await ctr.send(conf);
      await ctr.close();
    } else {
      await Promise.all([cmd(['ip', '-d', '-json', '-batch', '-'], READ), cmd([...ns, 'ip', '-d', '-json', '-batch', '-'], READ)]);
      await cmd(['ip', '-batch', '-'], move);
      await cmd(sysctl);
      await cmd([...ns, 'ip', '-batch', '-'], conf);
    }
  };
  const queue = [...entries];
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let e = queue.shift(); e; e = queue.shift()) await one(e);
  }));
  await host?.close();
  if (failed) {
    process.stderr.write(`stack floor: ${failed} entries not in place\n`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`stack floor: ${e.message}\n`);
  process.exitCode = 1;
});
