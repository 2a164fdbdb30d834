/** steps/route.ts defaultDrift: when detach leaves a container's default route as a person left it. */
import { describe, expect, it } from 'vitest';
import { defaultDrift, routeDefault, type DefaultParams } from '../../src/steps/route.js';
import { doCommands, leftAlone, makeStep, undoCommands } from '../../src/steps/index.js';

const p: DefaultParams = {
  ns: '/proc/1/ns/net', family: 4, gateway: '192.168.1.1', dev: 'eth1',
  previous: [{ dst: 'default', gateway: '172.31.0.1', dev: 'eth0' }],
};
const ours = { dst: 'default', gateway: '192.168.1.1', dev: 'eth1' };
const devs = new Set(['lo', 'eth0', 'eth1']);

describe('defaultDrift', () => {
  it('is undefined when the default route is exactly the one hostnic set', () => {
    expect(defaultDrift(p, undefined, [ours], devs)).toBeUndefined();
  });
  it('names what is there instead, and what is not put back', () => {
    expect(defaultDrift(p, undefined, [{ dst: 'default', gateway: '172.31.0.254', dev: 'eth0' }], devs))
      .toBe("the container's IPv4 default route was changed after attach (now: via 172.31.0.254 dev eth0; hostnic set: via 192.168.1.1 dev eth1): left as it is, the previous one (via 172.31.0.1 dev eth0) not put back");
    expect(defaultDrift(p, undefined, [], devs)).toMatch(/\(now: none; /);
    expect(defaultDrift(p, undefined, [ours, { dst: 'default', gateway: '172.31.0.254', dev: 'eth0', metric: 100 }], devs)).toMatch(/changed after attach/);
  });
  it("an on-link default route (a DHCP lease's router 0.0.0.0) has no gateway: in place as such", () => {
    const onLink = { family: 4 as const, dev: 'eth1', previous: p.previous };
    expect(defaultDrift(onLink, undefined, [{ dst: 'default', dev: 'eth1', scope: 'link' }], devs)).toBeUndefined();
    expect(defaultDrift(onLink, undefined, [ours], devs)).toMatch(/hostnic set: dev eth1\)/);
  });
  it('does not put back a previous route whose device is gone', () => {
    expect(defaultDrift(p, undefined, [ours], new Set(['lo', 'eth1']))).toMatch(/cannot be put back: eth0 is gone/);
  });
  it('a step marked to be left changes nothing either way', () => {
    const step = { ...makeStep('route.default', 'ctr.default4', 'Replace', p), inverse: true, leave: 'changed' };
    expect(doCommands(step)).toEqual([]);
    expect(undoCommands(step)).toEqual([]);
    expect(leftAlone([step])).toEqual(['changed']);
    expect(routeDefault.undo(p, undefined).map((c) => c.argv.join(' '))).toEqual([
      'ip route del 0.0.0.0/0 via 192.168.1.1 dev eth1', 'ip route add 0.0.0.0/0 via 172.31.0.1 dev eth0',
    ]);
  });
});
