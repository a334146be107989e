import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/index.js';
import { acceptedRanges, parseConfig } from './config.js';
import { projectRoot } from '../../test/helpers/shared-data.js';

const base = (router: string, extra = ''): string => `
vnets:
  - name: prod
    cidrs: [10.0.0.0/8]
${extra}
    routers:
${router}
`;

function issues(text: string): { path: string; message: string }[] {
  try {
    parseConfig(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected the config to be refused');
}

describe('config', () => {
  it('accepts the shipped examples', () => {
    for (const f of ['demo.yaml', 'shadownet.yaml']) {
      const cfg = parseConfig(readFileSync(join(projectRoot, 'examples', f), 'utf8'), f);
      expect(cfg.vnets.length).toBeGreaterThan(0);
    }
  });

  it('fills defaults', () => {
    const cfg = parseConfig(base(`      - name: vr1\n        asn: 65000\n        routerId: 10.0.0.1\n        listen: { address: 127.0.0.1 }\n        peers: [{ address: 127.0.0.2, asn: 65001 }]`));
    const r = cfg.vnets[0].routers[0];
    expect(r.listen.port).toBe(179);
    expect(r.holdTime).toBe(90);
    expect(r.peers[0]).toMatchObject({ passive: true, port: 179, holdTime: 90, gracefulRestart: true, families: ['ipv4', 'ipv6'] });
    expect(acceptedRanges(cfg.vnets[0], r.peers[0]).map((p) => p.length)).toEqual([8]);
    expect(cfg.api.listen).toEqual({ address: '127.0.0.1', port: 8179 });
  });

  it('names the path and what was expected for a bad ASN', () => {
    const found = issues(
      base(
        `      - name: vr0\n        asn: 65000\n        routerId: 10.0.0.1\n        listen: { address: 127.0.0.1, port: 2000 }\n      - name: vr1\n        asn: -3\n        routerId: 10.0.0.2\n        listen: { address: 127.0.0.1, port: 2001 }`,
      ),
    );
    expect(found).toHaveLength(1);
    expect(found[0].path).toMatch(/^vnets\[0\]\.routers\[1\]\.asn \(line \d+\)$/);
    expect(found[0].message).toBe('expected an integer 1..4294967295');
  });

  it('reports every problem at once, with paths', () => {
    const found = issues(`
vnets:
  - name: "bad name!"
    cidrs: [10.0.0.1/8, 300.0.0.0/8]
    routers:
      - name: vr1
        asn: 65000
        routerId: not-an-ip
        listen: { address: 127.0.0.1, port: 70000 }
        peers:
          - { address: 127.0.0.2, asn: 65001, holdTime: 2, colour: blue }
`);
    const paths = found.map((i) => i.path.replace(/ \(line \d+\)$/, ''));
    expect(paths).toEqual(
      expect.arrayContaining([
        'vnets[0].name',
        'vnets[0].cidrs[0]',
        'vnets[0].cidrs[1]',
        'vnets[0].routers[0].routerId',
        'vnets[0].routers[0].listen.port',
        'vnets[0].routers[0].peers[0].holdTime',
        'vnets[0].routers[0].peers[0]',
      ]),
    );
    expect(found.find((i) => i.path.startsWith('vnets[0].cidrs[0]'))!.message).toMatch(/host bits are set past \/8 \(did you mean 10\.0\.0\.0\/8\?\)/);
    expect(found.find((i) => i.path.startsWith('vnets[0].routers[0].peers[0] '))!.message).toMatch(/unknown key.*colour/);
  });

  it('refuses overlapping CIDRs, duplicate names and shared listeners', () => {
    const found = issues(`
vnets:
  - name: a
    cidrs: [10.0.0.0/8, 10.1.0.0/16]
    routers:
      - { name: vr1, asn: 65000, routerId: 10.0.0.1, listen: { address: 127.0.0.1, port: 2000 }, peers: [{ address: 127.0.0.2, asn: 1 }, { address: 127.0.0.2, asn: 2 }] }
  - name: a
    cidrs: [192.168.0.0/16]
    routers:
      - { name: vr1, asn: 65000, routerId: 10.0.0.1, listen: { address: 127.0.0.1, port: 2000 } }
`);
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'vnets[0].cidrs[1]', message: 'overlaps cidrs[0] (10.0.0.0/8)' },
        { path: 'vnets[1].name', message: 'duplicate virtual network name "a" (also vnets[0])' },
        { path: 'vnets[1].routers[0].listen', message: '127.0.0.1 port 2000 is already used by vnets[0].routers[0]' },
        { path: 'vnets[0].routers[0].peers[1].address', message: 'duplicate peer 127.0.0.2 (also peers[0])' },
      ]),
    );
  });

  it('reports YAML syntax errors with a line', () => {
    const found = issues('vnets:\n  - name: [unclosed\n');
    expect(found[0].path).toMatch(/^line \d+$/);
    expect(found[0].message).toMatch(/^YAML syntax/);
  });

  it('refuses a peer whose source address family differs', () => {
    const found = issues(base(`      - { name: vr1, asn: 65000, routerId: 10.0.0.1, listen: { address: 127.0.0.1, port: 2000 }, peers: [{ address: "::1", asn: 1 }] }`));
    expect(found).toEqual([{ path: 'vnets[0].routers[0].peers[0].localAddress', message: 'source address 127.0.0.1 is not of the same family as the peer ::1' }]);
  });
});
