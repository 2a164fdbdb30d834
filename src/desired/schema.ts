/**
 * The one description of the desired-state file's keys: the loader
 * (desired/parse.ts) takes its key list from here, and the JSON Schema that
 * editors validate with (`hostnic schema`, schema/attachments.schema.json in
 * the package) is generated from it. The JSON Schema is the editor's first
 * line (shape, spelling, forms); the loader is the judge: it runs the very
 * parsers of the command line (src/request/), and checks across entries
 * (one NIC in two entries) what a JSON Schema cannot.
 */

/** The keys of one entry, as the file spells them, in the order they are written. */
export const ENTRY_KEYS = ['container', 'nic', 'addresses', 'name', 'mac', 'mtu', 'routes', 'macvlan', 'dhcp-timeout'] as const;
export type EntryKey = (typeof ENTRY_KEYS)[number];

/** The keys an entry must have. */
export const REQUIRED_KEYS: readonly EntryKey[] = ['container', 'nic'];

const IPV4 = '(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
/** Loose: hex groups and colons (the loader checks the rest with ipaddr.js). */
const IPV6 = '[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*';
const IP = `(?:${IPV4}|${IPV6})`;
/** One separator throughout (parseMac). */
const MAC_BODY = '[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}';
const MAC = `^(?:${MAC_BODY})$`;
/** Printable ASCII without space, "/", ":" or "%", not starting with "-" (validateIfName). */
const IFNAME = '(?!-)[!-$&-.0-9;-~]{1,15}';
const PREFIX = '(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])';

const ENTRY_SCHEMA: Record<EntryKey, Record<string, unknown>> = {
  container: {
    description: 'The container: docker:NAME, podman:NAME, containerd:[NAMESPACE/]ID, a bare container name, or netns:NAME. Never a pid or a path: they name one boot\'s process or namespace.',
    type: 'string',
    minLength: 1,
    not: { pattern: '^(?:[Pp][Ii][Dd]:|/)' },
    pattern: '^(?:(?:[Dd][Oo][Cc][Kk][Ee][Rr]|[Pp][Oo][Dd][Mm][Aa][Nn]):[a-zA-Z0-9][a-zA-Z0-9_.-]*|[Cc][Oo][Nn][Tt][Aa][Ii][Nn][Ee][Rr][Dd]:[A-Za-z0-9._/-]+|[Nn][Ee][Tt][Nn][Ss]:[\\x21\\x24-\\x2e\\x30-\\x5b\\x5d-\\x7e]+|[a-zA-Z0-9][a-zA-Z0-9_.-]*)$',
  },
  nic: {
    description: 'The host NIC: its name, mac:ADDRESS or pci:BUS-ID (as for hostnic attach).',
    type: 'string',
    pattern: `^(?:[Mm][Aa][Cc]:(?:${MAC_BODY})|[Pp][Cc][Ii]:(?:(?:[0-9A-Fa-f]{4}|[1-9A-Fa-f][0-9A-Fa-f]{4,7}):)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7]|${IFNAME})$`,
  },
  addresses: {
    description: 'IP/PREFIX[@GATEWAY], IPv4 or IPv6; a gateway makes the container\'s default route of that family go through the NIC. dhcp (once): an IPv4 lease (address, router, routes, MTU) from DHCP, renewed while attached.',
    type: 'array',
    items: { type: 'string', pattern: `^(?:${IP}/${PREFIX}(?:@${IP})?|dhcp)$` },
  },
  name: {
    description: 'The interface name in the container (default: the first free ethN), as --name.',
    type: 'string',
    pattern: `^${IFNAME}$`,
    not: { enum: ['lo', '.', '..'] },
  },
  mac: {
    description: 'The MAC to set, as --mac (clouds usually drop frames from other MACs).',
    type: 'string',
    pattern: MAC,
  },
  mtu: {
    description: 'The MTU to set, as --mtu (within the NIC\'s own range).',
    type: 'integer',
    minimum: 68,
    maximum: 65535,
  },
  routes: {
    description: 'Extra routes CIDR[@VIA] through the NIC, as --route.',
    type: 'array',
    items: { type: 'string', pattern: `^(?:default|${IP}/${PREFIX})(?:@${IP})?$` },
  },
  macvlan: {
    description: 'A macvlan child of the NIC goes into the container, in this mode (true: bridge), as --macvlan [--macvlan-mode]; the NIC stays in the host, and several containers can share it.',
    anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['bridge', 'private', 'vepa'] }],
  },
  'dhcp-timeout': {
    description: 'With dhcp among the addresses: seconds to wait for the first lease at each attach (default 10), as --dhcp-timeout.',
    type: 'integer',
    minimum: 1,
    maximum: 3600,
  },
};

/** The JSON Schema (draft-07) of the file. */
export function jsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'hostnic desired attachments (/etc/hostnic/attachments.yaml)',
    description: 'The NICs hostnic keeps attached: `hostnic apply` makes the machine so, `hostnic watch` keeps it so. One entry per NIC.',
    type: 'object',
    additionalProperties: false,
    properties: {
      attachments: {
        type: ['array', 'null'],
        items: {
          type: 'object',
          additionalProperties: false,
          required: [...REQUIRED_KEYS],
          properties: ENTRY_SCHEMA,
        },
      },
    },
  };
}
