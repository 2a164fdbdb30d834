/**
 * src/runtime/events.ts: the runtimes' event records → one RuntimeEvent.
 * Every sample below is a runtime's own output, captured on a test machine
 * (test/fixtures/events/README.md says how and from which versions): Docker's
 * and Podman's API event streams, `podman events --format json`, and `ctr
 * events` lines. The live streams are exercised in test/e2e/watch-*.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseApiEvent, parseCtrEvent, type RuntimeEvent } from '../../src/runtime/events.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'events');
const lines = (file: string): string[] => readFileSync(join(DIR, file), 'utf8').split('\n').filter((l) => l.trim() !== '');
const docs = (file: string): unknown[] => lines(file).map((l) => JSON.parse(l) as unknown);

/** The documents of `file` whose Action/Status/status is `action` (a fixture holds one container's life). */
function pick(file: string, action: string): unknown {
  const hit = docs(file).find((d) => {
    const x = d as { Action?: string; Status?: string; status?: string };
    return (x.Action ?? x.Status ?? x.status) === action;
  });
  if (!hit) throw new Error(`${file} has no ${action} event`);
  return hit;
}

describe('parseApiEvent: Docker Engine API /events', () => {
  const file = 'docker-api.jsonl';
  const id = (pick(file, 'start') as { Actor: { ID: string } }).Actor.ID;

  it('start, die and destroy of a container: its full id, its name, the action', () => {
    for (const [action, want] of [['start', 'start'], ['die', 'die'], ['destroy', 'destroy']] as const) {
      expect(parseApiEvent('docker', pick(file, action)), action).toEqual<RuntimeEvent>({ runtime: 'docker', id, name: 'hnev-web', action: want });
    }
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('every other container action (create, kill, stop, restart, exec_*, attach, ...) is not an event for watch', () => {
    const others = docs(file).filter((d) => !['start', 'die', 'destroy'].includes((d as { Action: string }).Action));
    expect(others.map((d) => (d as { Action: string }).Action)).toEqual(expect.arrayContaining(['create', 'kill', 'stop', 'restart']));
    for (const d of others) expect(parseApiEvent('docker', d), JSON.stringify(d)).toBeUndefined();
  });

  it("other types' events are ignored, even when their Action is start or destroy (a network, a volume, an image)", () => {
    const other = docs('docker-api-other.jsonl');
    expect(new Set(other.map((d) => (d as { Type: string }).Type))).toEqual(new Set(['network', 'volume', 'image']));
    expect(other.some((d) => (d as { Action: string }).Action === 'destroy')).toBe(true);
    for (const d of other) expect(parseApiEvent('docker', d), JSON.stringify(d)).toBeUndefined();
  });

  it('a name is given without its leading slash; a record without a name is named by its id', () => {
    const start = pick(file, 'start') as { Actor: { ID: string; Attributes: Record<string, string> } };
    const slashed = { ...start, Actor: { ...start.Actor, Attributes: { ...start.Actor.Attributes, name: '/hnev-web' } } };
    expect(parseApiEvent('docker', slashed)?.name).toBe('hnev-web');
    const nameless = { ...start, Actor: { ID: start.Actor.ID, Attributes: {} } };
    expect(parseApiEvent('docker', nameless)).toMatchObject({ id, name: id, action: 'start' });
  });

  it('what is not an event record gives nothing (and never throws)', () => {
    for (const d of [null, undefined, 'start', 42, [], {}, { Type: 'container' }, { Type: 'container', Action: 'start' }, { Type: 'container', Action: 'start', Actor: { ID: '' } }, { Type: 'container', Action: 7, Actor: { ID: 'x' } }]) {
      expect(parseApiEvent('docker', d), JSON.stringify(d)).toBeUndefined();
    }
  });
});

describe('parseApiEvent: Podman', () => {
  it('the libpod API stream (/libpod/events): start, died, remove', () => {
    const file = 'podman-api.jsonl';
    const id = (pick(file, 'start') as { Actor: { ID: string } }).Actor.ID;
    expect(parseApiEvent('podman', pick(file, 'start'))).toEqual<RuntimeEvent>({ runtime: 'podman', id, name: 'hnev-pod', action: 'start' });
    expect(parseApiEvent('podman', pick(file, 'died'))).toMatchObject({ id, action: 'die' });
    expect(parseApiEvent('podman', pick(file, 'remove'))).toMatchObject({ id, action: 'destroy' });
    const rest = docs(file).filter((d) => !['start', 'died', 'remove'].includes((d as { Action: string }).Action));
    expect(rest.length).toBeGreaterThan(0);
    for (const d of rest) expect(parseApiEvent('podman', d), JSON.stringify(d)).toBeUndefined();
  });

  it('`podman events --format json` (its own field names: ID, Name, Status): start, died, remove; others ignored', () => {
    const file = 'podman-cli.jsonl';
    const id = (pick(file, 'start') as { ID: string }).ID;
    expect(parseApiEvent('podman', pick(file, 'start'))).toEqual<RuntimeEvent>({ runtime: 'podman', id, name: 'hnev-pod', action: 'start' });
    expect(parseApiEvent('podman', pick(file, 'died'))).toMatchObject({ id, name: 'hnev-pod', action: 'die' });
    expect(parseApiEvent('podman', pick(file, 'remove'))).toMatchObject({ id, name: 'hnev-pod', action: 'destroy' });
    const rest = docs(file).filter((d) => !['start', 'died', 'remove'].includes((d as { Status: string }).Status));
    expect(rest.length).toBeGreaterThan(0);
    for (const d of rest) expect(parseApiEvent('podman', d), JSON.stringify(d)).toBeUndefined();
  });
});

describe('parseCtrEvent: `ctr events` lines', () => {
  const all = lines('ctr.txt');
  const ID = '69daa8c5a694d7d3bfea9cea392a759d26dc8d62a9098ebad19f380927488a3b';
  /** The first line of `t` for Docker's container (namespace moby), told in namespace `ns` instead. */
  const topic = (t: string, ns = 'default'): string => {
    const l = all.find((x) => x.includes(` moby ${t} `));
    if (!l) throw new Error(`ctr.txt has no moby ${t} line`);
    return l.replace(' moby ', ` ${ns} `);
  };

  it('/tasks/start, /tasks/exit, /tasks/delete and /containers/delete of a container: its id (the name), its namespace, the action', () => {
    const want = (action: RuntimeEvent['action'], namespace = 'default'): RuntimeEvent => ({ runtime: 'containerd', id: ID, name: ID, action, namespace });
    expect(parseCtrEvent(topic('/tasks/start'))).toEqual(want('start'));
    expect(parseCtrEvent(topic('/tasks/exit'))).toEqual(want('die'));
    expect(parseCtrEvent(topic('/tasks/delete'))).toEqual(want('die'));
    expect(parseCtrEvent(topic('/containers/delete'))).toEqual(want('destroy'));
    expect(parseCtrEvent(topic('/tasks/start', 'k8s.io'))).toEqual(want('start', 'k8s.io'));
  });

  it('other topics (/containers/create, /tasks/create, /snapshot/*, /images/*, /content/*, /namespaces/*) are not events for watch', () => {
    const wanted = ['/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/delete'];
    const rest = all.filter((l) => !wanted.some((t) => l.includes(` ${t} `))).map((l) => l.replace(' moby ', ' default '));
    for (const t of ['/containers/create', '/tasks/create', '/snapshot/prepare', '/images/create', '/content/delete', '/namespaces/delete']) {
      expect(rest.some((l) => l.includes(` ${t} `)), t).toBe(true);
    }
    for (const l of rest) expect(parseCtrEvent(l), l).toBeUndefined();
  });

  it("Docker's own namespaces (moby, plugins.moby) are left to Docker's stream", () => {
    const moby = all.filter((l) => / moby \/(tasks\/(start|exit|delete)|containers\/delete) /.test(l));
    expect(moby.length, 'ctr.txt has moby lines').toBeGreaterThanOrEqual(4);
    for (const l of moby) {
      expect(parseCtrEvent(l)).toBeUndefined();
      expect(parseCtrEvent(l.replace(' moby ', ' plugins.moby '))).toBeUndefined();
      // The same line in another namespace is an event.
      expect(parseCtrEvent(l.replace(' moby ', ' default '))).toMatchObject({ id: ID, namespace: 'default' });
    }
  });

  it('malformed lines give nothing and never throw: empty, cut short, bad JSON, no id, an unknown topic', () => {
    const good = topic('/tasks/start');
    const bad = [
      '',
      '   ',
      'ctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded',
      good.slice(0, good.indexOf('{') + 5), // cut in the middle of its JSON
      good.replace(/\{.*\}/, '{"container_id": }'),
      good.replace(/\{.*\}/, '{}'),
      good.replace(/\{.*\}/, '{"container_id":""}'),
      good.replace(/\{.*\}/, '{"container_id":42}'),
      good.replace(/\{.*\}/, '[]'),
      good.replace('/tasks/start', '/tasks/started'),
      good.replace('/tasks/start', 'tasks/start'),
      '/tasks/start {"container_id":"x"}', // no time or namespace
    ];
    for (const l of bad) expect(parseCtrEvent(l), JSON.stringify(l)).toBeUndefined();
  });
});
