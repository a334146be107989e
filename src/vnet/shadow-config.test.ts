import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/index.js';
import { parseConfig } from './config.js';

const head = `
vnets:
  - name: prod
    cidrs: [10.0.0.0/8]
    prefixTags:
      - { prefix: 10.10.0.0/16, tags: { app: checkout, critical: true } }
`;

function issues(text: string): { path: string; message: string }[] {
  try {
    parseConfig(text, 't.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => ({ path: i.path.replace(/ \(line \d+\)$/, ''), message: i.message }));
  }
  throw new Error('expected the config to be refused');
}

describe('shadow config', () => {
  it('parses sessions, rules, route matches, targets and IP sets with defaults', () => {
    const cfg = parseConfig(`${head}
shadow:
  ipSets: [{ name: threats, entries: [192.0.2.0/24] }]
  targets:
    - { name: ids, type: vxlan, address: 127.0.0.1 }
    - { name: archive, type: pcap, path: /tmp/x.pcap, rotate: { maxBytes: 1048576 } }
    - { name: strict, type: vxlan, address: 127.0.0.1, order: arrival }
  sessions:
    - name: critical
      vnet: prod
      priority: 10
      target: ids
      truncate: 128
      sample: { oneIn: 4, perFlow: true }
      budget: { bitsPerSecond: 1e6 }
      rules:
        - { action: reject, protocol: udp, destinationPorts: 53 }
        - action: accept
          protocol: tcp
          destinationPorts: "1024-65535"
          destinationRoute: { tags: { critical: true }, originAs: [65001], asPath: "_65010_", community: ["65001:*"], announcedWithin: 10m }
        - { action: accept, sourceRoute: { ipSet: threats } }
`);
    const s = cfg.shadow.sessions[0];
    expect(cfg.shadow.targets[0]).toMatchObject({ type: 'vxlan', port: 4789, order: 'conversation' });
    expect(cfg.shadow.targets[2]).toMatchObject({ type: 'vxlan', order: 'arrival' });
    expect(cfg.shadow.targets[1]).toMatchObject({ type: 'pcap', format: 'pcap' });
    expect(s.rules[0]).toMatchObject({ direction: 'any', destinationPorts: { from: 53, to: 53 } });
    expect(s.rules[1].destinationPorts).toEqual({ from: 1024, to: 65535 });
    expect(s.rules[1].destinationRoute!.announcedWithin).toBe(600);
    expect(s.sample).toEqual({ oneIn: 4, perFlow: true });
    expect(s.budget).toEqual({ bitsPerSecond: 1e6, burstSeconds: 1 });
    expect(cfg.shadow.statsInterval).toBe(10);
  });

  it('names every broken reference and bad value', () => {
    const found = issues(`${head}
shadow:
  targets:
    - { name: ids, type: vxlan, address: 127.0.0.1 }
    - { name: ids, type: bus }
    - { name: odd, type: carrier-pigeon }
    - { name: shuffled, type: vxlan, address: 127.0.0.1, order: random }
  sessions:
    - name: a
      vnet: nope
      priority: 0
      target: missing
      rules:
        - { action: accept, protocol: icmp, destinationPorts: 80 }
        - { action: accept, protocol: tcp, sourcePorts: "90-80" }
        - { action: accept, destinationRoute: { ipSet: unknown-set, announcedWithin: soon, asPath: "(" } }
    - name: b
      vnet: prod
      priority: 5
      target: ids
      scope: [192.168.0.0/16]
      rules: []
`);
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'shadow.targets[2].type', message: expect.stringMatching(/vxlan|expected/) },
        { path: 'shadow.targets[3].order', message: expect.stringMatching(/conversation.*arrival/) },
        { path: 'shadow.sessions[0].priority', message: expect.stringMatching(/>=1|1\.\.32766|too small/i) },
        { path: 'shadow.sessions[0].rules[1].sourcePorts', message: 'expected a port 0..65535 or a range "from-to" with from ≤ to' },
        { path: 'shadow.sessions[0].rules[2].destinationRoute.announcedWithin', message: 'expected a duration: seconds, or "30s", "10m", "2h"' },
        { path: 'shadow.sessions[0].rules[2].destinationRoute.asPath', message: 'expected a valid regular expression' },
        { path: 'shadow.sessions[1].rules', message: 'expected at least one rule (no rule matches nothing)' },
      ]),
    );
  });

  it('checks references across the file', () => {
    const found = issues(`${head}
shadow:
  targets:
    - { name: ids, type: vxlan, address: 127.0.0.1 }
    - { name: ids, type: bus }
  sessions:
    - { name: a, vnet: nope, priority: 1, target: missing, rules: [{ action: accept, protocol: icmp, destinationPorts: 80 }] }
    - { name: b, vnet: prod, priority: 5, target: ids, scope: [192.168.0.0/16], rules: [{ action: accept, destinationRoute: { ipSet: x } }] }
`);
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'shadow.targets[1].name', message: 'duplicate target name "ids" (also targets[0])' },
        { path: 'shadow.sessions[0].vnet', message: 'no virtual network named "nope" (known: prod)' },
        { path: 'shadow.sessions[0].target', message: 'no target named "missing" (known: ids)' },
        { path: 'shadow.sessions[0].rules[0].protocol', message: 'port ranges need protocol tcp or udp' },
        { path: 'shadow.sessions[1].scope[0]', message: '192.168.0.0/16 is outside virtual network "prod"\'s CIDRs' },
        { path: 'shadow.sessions[1].rules[0].destinationRoute.ipSet', message: 'no IP set named "x" (declare it under shadow.ipSets)' },
      ]),
    );
  });
});
