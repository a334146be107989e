import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../core/index.js';
import { parseConfig } from '../config.js';
import { ScriptError, ScriptRunner, type ScriptAction } from './script.js';

const START = Date.UTC(2026, 0, 5);
const MIN = 60_000;

const config = parseConfig(`
substrate: { hosts: [{ name: h1 }] }
vnets:
  - name: prod
    vni: 1
    cidrs: [10.0.0.0/8]
    routers: [{ name: vr1, asn: 65000, routerId: 10.255.0.1, host: h1, listen: { address: 127.0.0.1, port: 25091 }, peers: [{ address: 127.0.0.2, asn: 65010 }, { address: 127.0.0.3, asn: 65020 }] }]
    nodes:
      - { name: a, host: h1, address: 10.9.0.1, appliance: { router: vr1, asn: 65010, bgpAddress: 127.0.0.2 } }
      - { name: b, host: h1, address: 10.9.0.2, appliance: { router: vr1, asn: 65020, bgpAddress: 127.0.0.3 } }
emulation:
  script:
    - { at: 2h, action: withdraw, vnet: prod, node: a, prefix: 10.20.0.0/16 }
    - { at: 30m, action: announce, vnet: prod, node: a, prefix: 10.20.0.0/16 }
    - { at: "1h", action: failover, vnet: prod, node: a, to: b, prefix: 10.20.0.0/16 }
    - { at: 3600, action: announce, vnet: prod, node: b, prefix: 10.21.0.0/16 }
  attacks:
    - { kind: route-leak, vnet: prod, node: b, prefix: 10.40.0.0/16, asPath: [64700], at: 30m, duration: 90m }
`);

/** Records what the runner asks of the appliances. */
function fakeFleet(failOn?: string) {
  const calls: string[] = [];
  return {
    calls,
    announce(vnet: string, node: string, prefix: string, opts?: { asPath?: readonly number[] }) {
      if (node === failOn) throw new Error(`no appliance node "${node}"`);
      calls.push(`announce ${vnet}/${node} ${prefix}${opts?.asPath ? ` [${opts.asPath.join(' ')}]` : ''}`);
      return { prefix, asPath: [], communities: [], nextHop: '' };
    },
    withdraw(vnet: string, node: string, prefix: string) {
      if (node === failOn) throw new Error(`no appliance node "${node}"`);
      calls.push(`withdraw ${vnet}/${node} ${prefix}`);
      return true;
    },
  };
}

describe('ScriptRunner', () => {
  it('runs the steps and routing attacks at their offsets, in time order', () => {
    const clock = new SimulatedClock(START);
    const fleet = fakeFleet();
    const actions: ScriptAction[] = [];
    const runner = new ScriptRunner({ config, fleet, clock, startMs: START, onAction: (a) => actions.push(a) });
    expect(runner.schedule().map((s) => (s.at - START) / MIN)).toEqual([30, 30, 60, 60, 120, 120]);
    runner.start();
    clock.advanceTo(START + 30 * MIN - 1);
    expect(fleet.calls).toEqual([]);
    clock.advanceTo(START + 3 * 60 * MIN);
    expect(fleet.calls).toEqual([
      'announce prod/a 10.20.0.0/16',
      'announce prod/b 10.40.0.0/16 [64700]',
      'withdraw prod/a 10.20.0.0/16',
      'announce prod/b 10.20.0.0/16',
      'announce prod/b 10.21.0.0/16',
      'withdraw prod/a 10.20.0.0/16',
      'withdraw prod/b 10.40.0.0/16',
    ]);
    expect(actions.map((a) => [a.type, (a.time - START) / MIN])).toEqual([
      ['announce', 30],
      ['attack-start', 30],
      ['failover', 60],
      ['announce', 60],
      ['withdraw', 120],
      ['attack-end', 120],
    ]);
    expect(actions[1]).toMatchObject({ label: 'attack-0-route-leak', node: 'b', asPath: [64700] });
    expect(runner.actions).toEqual(actions);
  });

  it('runs steps already due when started late, and stop() cancels the rest', () => {
    const clock = new SimulatedClock(START + 45 * MIN);
    const fleet = fakeFleet();
    const runner = new ScriptRunner({ config, fleet, clock, startMs: START });
    runner.start();
    clock.advance(0);
    expect(fleet.calls).toEqual(['announce prod/a 10.20.0.0/16', 'announce prod/b 10.40.0.0/16 [64700]']);
    expect(runner.actions.every((a) => a.time === START + 45 * MIN)).toBe(true);
    runner.stop();
    clock.advanceTo(START + 86_400_000);
    expect(fleet.calls).toHaveLength(2);
  });

  it('reports a step that fails and goes on with the rest', () => {
    const clock = new SimulatedClock(START);
    const fleet = fakeFleet('a');
    const runner = new ScriptRunner({ config, fleet, clock, startMs: START });
    runner.start();
    clock.advanceTo(START + 3 * 60 * MIN);
    expect(runner.actions.filter((a) => a.type === 'error').map((a) => (a.type === 'error' ? a.what : ''))).toEqual([
      'announce 10.20.0.0/16 from prod/a',
      'fail 10.20.0.0/16 over from prod/a to b',
      'withdraw 10.20.0.0/16 from prod/a',
    ]);
    expect(fleet.calls).toEqual(['announce prod/b 10.40.0.0/16 [64700]', 'announce prod/b 10.21.0.0/16', 'withdraw prod/b 10.40.0.0/16']);
  });

  it('refuses a step whose time is not an offset, naming it', () => {
    const bad = { ...config, emulation: { ...config.emulation!, script: [{ ...config.emulation!.script[0], at: 'tomorrow' }] } };
    expect(() => new ScriptRunner({ config: bad, fleet: fakeFleet(), clock: new SimulatedClock(START) })).toThrow(ScriptError);
    expect(() => new ScriptRunner({ config: bad, fleet: fakeFleet(), clock: new SimulatedClock(START) })).toThrow(/emulation\.script\[0\]\.at: expected a time offset/);
  });
});
