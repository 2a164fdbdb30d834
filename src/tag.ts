/**
 * The tag hostnic writes into a NIC's ifalias while the NIC is in a
 * container: enough of its host identity to send it home even when the state
 * directory is gone (the kernel keeps ifalias across namespace moves).
 *
 *   hostnic:1/id=3f9c2a1b/n=nic1/m=52:54:00:12:34:56/t=1500/u=1/g4=172.17.0.1@eth0/a=<base64url alias>
 *
 * Fields are separated by '/', which the kernel forbids in interface names
 * and which MACs, addresses and base64url never contain; no whitespace, so
 * the command that sets it can share an `ip -batch` with others.
 */
export interface Tag {
  id: string;
  /** Host-side name, MAC, MTU, up flag and ifalias before attach. */
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  alias?: string;
  /** The container's default routes that attach replaced: gateway@dev. */
  gw4?: string;
  gw6?: string;
  /** A macvlan child (attach --macvlan): its mode; `name` is then its parent's. */
  macvlan?: string;
}

const PREFIX = 'hostnic:1';
/** IFALIASZ is 256 including the terminating NUL. */
const MAX = 255;

export function encodeTag(t: Tag): string {
  const parts = [PREFIX, `id=${t.id}`, `n=${t.name}`, `m=${t.mac}`, `t=${t.mtu}`, `u=${t.up ? 1 : 0}`, ...(t.macvlan ? [`mv=${t.macvlan}`] : [])];
  const optional = [
    t.gw4 ? `g4=${t.gw4}` : '',
    t.gw6 ? `g6=${t.gw6}` : '',
    t.alias ? `a=${Buffer.from(t.alias).toString('base64url')}` : '',
  ].filter(Boolean);
  let out = parts.join('/');
  // Optional fields in order of importance; the state file has them all anyway.
  for (const field of optional) if (out.length + 1 + field.length <= MAX) out += `/${field}`;
  return out;
}

export function isTag(alias: string | undefined): boolean {
  return !!alias && alias.startsWith(`${PREFIX}/`);
}

export function decodeTag(alias: string | undefined): Tag | undefined {
  if (!isTag(alias)) return undefined;
  const kv = new Map<string, string>();
  for (const part of alias!.split('/').slice(1)) {
    const eq = part.indexOf('=');
    if (eq > 0) kv.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const id = kv.get('id');
  const name = kv.get('n');
  const mac = kv.get('m');
  const mtu = Number(kv.get('t'));
  if (!id || !name || !mac || !Number.isInteger(mtu)) return undefined;
  const a = kv.get('a');
  return {
    id, name, mac, mtu, up: kv.get('u') === '1',
    alias: a ? Buffer.from(a, 'base64url').toString() : undefined,
    gw4: kv.get('g4'), gw6: kv.get('g6'),
    ...(kv.get('mv') ? { macvlan: kv.get('mv') } : {}),
  };
}
