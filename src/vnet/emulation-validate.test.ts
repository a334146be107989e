import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../core/index.js';
import { parseConfig } from './config.js';
import { MAX_EMULATION_OFFSET_SECONDS, parseEmulationOffset } from './emulation-validate.js';
import { projectRoot } from '../../test/helpers/shared-data.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the tests edit plain YAML objects */

/** A small emulated network that is valid as it stands. */
function base(): any {
  return {
    substrate: {
      hosts: [{ name: 'h1' }, { name: 'h2' }, { name: 'h3' }],
      links: [
        { a: 'h1', b: 'h2', capacity: '10Gbps', latency: '1ms' },
        { a: 'h2', b: 'h3', capacity: '10Gbps' },
      ],
    },
    vnets: [
      {
        name: 'prod',
        vni: 1001,
        cidrs: ['10.0.0.0/8', '2001:db8::/32'],
        routers: [
          {
            name: 'vr1',
            asn: 65000,
            routerId: '10.255.0.1',
            host: 'h1',
            listen: { address: '127.0.0.1', port: 1179 },
            peers: [
              { address: '127.0.0.2', asn: 65001 },
              { address: '127.0.0.3', asn: 65002 },
            ],
          },
        ],
        subnets: [
          { name: 'web', cidr: '10.1.0.0/24' },
          { name: 'db', cidr: '10.2.0.0/24' },
        ],
        nodes: [
          {
            name: 'web1',
            host: 'h2',
            address: '10.1.0.10',
            subnet: 'web',
            apps: ['shop'],
            appliance: { router: 'vr1', asn: 65001, bgpAddress: '127.0.0.2', announce: ['10.10.0.0/24'] },
          },
          {
            name: 'web2',
            host: 'h2',
            address: '10.1.0.11',
            subnet: 'web',
            apps: ['shop'],
            appliance: { router: 'vr1', asn: 65002, bgpAddress: '127.0.0.3' },
          },
          { name: 'db1', host: 'h3', address: '10.2.0.5', subnet: 'db', apps: ['orders'] },
        ],
        applications: [
          {
            name: 'shop',
            kind: 'web',
            protocol: 'http',
            port: 80,
            hostname: 'shop.example',
            prefix: '10.10.0.0/24',
            clients: ['0.0.0.0/0'],
            requestsPerSecond: 10,
          },
          {
            name: 'orders',
            kind: 'database',
            protocol: 'bulk',
            port: 5432,
            clients: ['10.1.0.0/24'],
            requestsPerSecond: 5,
          },
        ],
      },
    ],
    emulation: {
      seed: 7,
      script: [
        { at: '1d2h', action: 'failover', vnet: 'prod', node: 'web1', to: 'web2', prefix: '10.10.0.0/24' },
      ],
      attacks: [
        { kind: 'syn-flood', vnet: 'prod', at: '2h', source: '198.51.100.7', target: '10.10.0.1' },
        { kind: 'port-scan', vnet: 'prod', at: 600, source: '198.51.100.8', target: '10.1.0.0/24' },
        {
          kind: 'route-leak',
          vnet: 'prod',
          at: '3h',
          node: 'web2',
          prefix: '10.20.0.0/16',
          asPath: [64500, 64501],
        },
        { kind: 'c2-beacon', vnet: 'prod', at: '1h', node: 'db1' },
      ],
      threatList: ['203.0.113.0/24'],
    },
  };
}

function load(cfg: unknown) {
  return parseConfig(stringify(cfg), 'emu.yaml');
}

/** The issues a config is refused with. */
function refused(edit: (cfg: any) => void): { path: string; message: string }[] {
  const cfg = base();
  edit(cfg);
  try {
    load(cfg);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected the config to be refused');
}

/** Exactly one issue, at `path`, whose message matches. */
function expectOne(edit: (cfg: any) => void, path: string, message: RegExp): void {
  const found = refused(edit);
  expect(found).toEqual([{ path, message: expect.stringMatching(message) }]);
}

const vnet = (cfg: any): any => cfg.vnets[0];

describe('emulation config checks', () => {
  it('accepts a consistent emulated network and the shipped demo', () => {
    const cfg = load(base());
    expect(cfg.vnets[0].nodes.map((n) => n.host)).toEqual(['h2', 'h2', 'h3']);
    const demo = parseConfig(readFileSync(join(projectRoot, 'examples', 'demo.yaml'), 'utf8'), 'demo.yaml');
    expect(demo.vnets.length).toBeGreaterThan(0);
  });

  describe('substrate', () => {
    it('refuses a node on a host that does not exist', () => {
      expectOne(
        (c) => (vnet(c).nodes[2].host = 'h9'),
        'vnets[0].nodes[2].host',
        /no host named "h9" in substrate\.hosts \(known: "h1", "h2", "h3"\)/,
      );
    });
    it('refuses a link to nowhere', () => {
      const found = refused((c) => (c.substrate.links[1].b = 'nowhere'));
      expect(found).toContainEqual({
        path: 'substrate.links[1].b',
        message: 'a link to nowhere: no host named "nowhere" in substrate.hosts (known: "h1", "h2", "h3")',
      });
    });
    it('refuses a link from a host to itself', () => {
      expectOne(
        (c) => c.substrate.links.push({ a: 'h3', b: 'h3', capacity: 1e9 }),
        'substrate.links[2].b',
        /from host "h3" to itself/,
      );
    });
    it('refuses duplicate host names', () => {
      expectOne(
        (c) => c.substrate.hosts.push({ name: 'h2' }),
        'substrate.hosts[3].name',
        /duplicate host name "h2" \(also hosts\[1\]\)/,
      );
    });
    it('refuses a network whose hosts cannot reach each other', () => {
      expectOne(
        (c) => c.substrate.links.pop(),
        'vnets[0].nodes[2].host',
        /host "h3" cannot reach host "h1" \(vnets\[0\]\.routers\[0\]\.host\)/,
      );
    });
  });

  describe('routers', () => {
    it('refuses a router with no substrate host', () => {
      expectOne(
        (c) => delete vnet(c).routers[0].host,
        'vnets[0].routers[0].host',
        /a router with no substrate host: router "vr1" needs host/,
      );
    });
    it('refuses a router on a host that does not exist', () => {
      expectOne((c) => (vnet(c).routers[0].host = 'h7'), 'vnets[0].routers[0].host', /no host named "h7"/);
    });
    it('asks for a host on the routers of a network the attacks or script name, and only those', () => {
      const staging = {
        name: 'staging',
        cidrs: ['172.16.0.0/12'],
        routers: [
          { name: 'vr1', asn: 65100, routerId: '172.31.255.1', listen: { address: '127.0.0.1', port: 1180 } },
        ],
      };
      const cfg = base();
      cfg.vnets.push(staging);
      expect(load(cfg).vnets[1].routers[0].host).toBeUndefined();
      expectOne(
        (c) => {
          c.vnets.push(staging);
          c.emulation.attacks.push({
            kind: 'port-scan',
            vnet: 'staging',
            at: '1h',
            source: '198.51.100.9',
            target: '172.16.0.0/24',
          });
        },
        'vnets[1].routers[0].host',
        /a router with no substrate host/,
      );
    });
    it('leaves routers of a file without an emulated network alone', () => {
      const cfg = base();
      delete cfg.emulation;
      delete cfg.substrate;
      for (const k of ['subnets', 'nodes', 'applications']) delete vnet(cfg)[k];
      delete vnet(cfg).routers[0].host;
      expect(load(cfg).vnets[0].routers[0].host).toBeUndefined();
    });
    it('asks for a VNI on a network with nodes', () => {
      expectOne((c) => delete vnet(c).vni, 'vnets[0].vni', /a network with nodes needs a vni/);
    });
  });

  describe('subnets and nodes', () => {
    it('refuses overlapping subnets', () => {
      expectOne(
        (c) => (vnet(c).subnets[1].cidr = '10.0.0.0/14'),
        'vnets[0].subnets[1].cidr',
        /overlapping subnets: 10\.0\.0\.0\/14 overlaps subnets\[0\] "web" \(10\.1\.0\.0\/24\)/,
      );
    });
    it('refuses a subnet outside the network', () => {
      const found = refused((c) => (vnet(c).subnets[1].cidr = '192.168.0.0/24'));
      expect(found).toContainEqual({
        path: 'vnets[0].subnets[1].cidr',
        message: "192.168.0.0/24 is outside the network's CIDRs (10.0.0.0/8, 2001:db8::/32)",
      });
    });
    it('refuses a node address outside the network', () => {
      const found = refused((c) => {
        vnet(c).nodes[2].address = '192.168.1.1';
        delete vnet(c).nodes[2].subnet;
      });
      expect(found).toEqual([
        {
          path: 'vnets[0].nodes[2].address',
          message: expect.stringMatching(/192\.168\.1\.1 is outside the network's CIDRs/),
        },
      ]);
    });
    it('refuses two nodes with one address, however it is written', () => {
      const found = refused((c) => {
        vnet(c).nodes[1].address = '2001:db8::1';
        vnet(c).nodes[2].address = '2001:0db8:0::1';
        delete vnet(c).nodes[1].subnet;
        delete vnet(c).nodes[2].subnet;
        vnet(c).applications[1].clients = ['::/0'];
      });
      expect(found).toEqual([
        {
          path: 'vnets[0].nodes[2].address',
          message: expect.stringMatching(/already used by nodes\[1\] "web2"/),
        },
      ]);
    });
    it('refuses a node in a subnet that does not exist or does not hold its address', () => {
      expectOne(
        (c) => (vnet(c).nodes[2].subnet = 'dmz'),
        'vnets[0].nodes[2].subnet',
        /no subnet named "dmz" in this network \(known: "web", "db"\)/,
      );
      expectOne(
        (c) => (vnet(c).nodes[2].subnet = 'web'),
        'vnets[0].nodes[2].address',
        /10\.2\.0\.5 is not in its subnet "web" \(10\.1\.0\.0\/24\)/,
      );
    });
    it('refuses duplicate node names', () => {
      const found = refused((c) => (vnet(c).nodes[2].name = 'web1'));
      expect(found).toContainEqual({
        path: 'vnets[0].nodes[2].name',
        message: 'duplicate node name "web1" (also nodes[0])',
      });
    });
  });

  describe('applications', () => {
    it('refuses a node serving an application that does not exist', () => {
      expectOne(
        (c) => vnet(c).nodes[2].apps.push('ledger'),
        'vnets[0].nodes[2].apps[1]',
        /no application named "ledger" in this network \(known: "shop", "orders"\)/,
      );
    });
    it('refuses duplicate application names', () => {
      const found = refused((c) => vnet(c).applications.push({ ...vnet(c).applications[1] }));
      expect(found).toEqual([
        {
          path: 'vnets[0].applications[2].name',
          message: 'duplicate application name "orders" (also applications[1])',
        },
      ]);
    });
    it('refuses an application on two hosts at once', () => {
      expectOne(
        (c) => (vnet(c).nodes[1].host = 'h3'),
        'vnets[0].nodes[1].host',
        /an application on two hosts at once: "shop" is served on host "h3" here and on host "h2" by nodes\[0\] "web1"/,
      );
    });
    it('refuses an application no node serves', () => {
      expectOne(
        (c) => (vnet(c).nodes[2].apps = []),
        'vnets[0].applications[1].name',
        /no node serves application "orders"/,
      );
    });
    it('refuses a service prefix outside the network', () => {
      expectOne(
        (c) => (vnet(c).applications[0].prefix = '192.0.2.0/24'),
        'vnets[0].applications[0].prefix',
        /service prefix 192\.0\.2\.0\/24 is outside/,
      );
    });
    it('refuses clients of a family the application is not served over', () => {
      expectOne(
        (c) => vnet(c).applications[1].clients.push('2001:db8:5::/48'),
        'vnets[0].applications[1].clients[1]',
        /2001:db8:5::\/48 is IPv6 but the application is served over IPv4/,
      );
    });
    it('reports a malformed client prefix with its path', () => {
      const found = refused((c) => (vnet(c).applications[1].clients = ['10.1.0.1/24']));
      expect(found).toHaveLength(1);
      expect(found[0].path).toMatch(/^vnets\[0\]\.applications\[1\]\.clients\[0\]/);
      expect(found[0].message).toMatch(/host bits are set/);
    });
  });

  describe('appliances', () => {
    it('refuses an appliance peering with a router the network does not have', () => {
      expectOne(
        (c) => (vnet(c).nodes[0].appliance.router = 'vr9'),
        'vnets[0].nodes[0].appliance.router',
        /no router named "vr9" in this network \(known: "vr1"\)/,
      );
    });
    it('refuses an appliance address the router has no peer for', () => {
      expectOne(
        (c) => (vnet(c).nodes[0].appliance.bgpAddress = '127.0.0.9'),
        'vnets[0].nodes[0].appliance.bgpAddress',
        /127\.0\.0\.9 is not a configured peer of router "vr1" \(its peers: 127\.0\.0\.2, 127\.0\.0\.3\)/,
      );
    });
    it('refuses an appliance ASN the router does not expect', () => {
      expectOne(
        (c) => (vnet(c).nodes[0].appliance.asn = 65009),
        'vnets[0].nodes[0].appliance.asn',
        /router "vr1" expects AS 65001 from 127\.0\.0\.2, not AS 65009/,
      );
    });
    it('refuses two appliances on one session', () => {
      expectOne(
        (c) => Object.assign(vnet(c).nodes[1].appliance, { asn: 65001, bgpAddress: '127.0.0.2' }),
        'vnets[0].nodes[1].appliance.bgpAddress',
        /nodes\[0\] already uses 127\.0\.0\.2 for its session with router "vr1"/,
      );
    });
    it('refuses an announced prefix outside the network', () => {
      expectOne(
        (c) => vnet(c).nodes[0].appliance.announce.push('198.51.100.0/24'),
        'vnets[0].nodes[0].appliance.announce[1]',
        /service prefix 198\.51\.100\.0\/24 is outside/,
      );
    });
  });

  describe('script and attacks', () => {
    it('refuses a script step naming a missing network or node', () => {
      expectOne(
        (c) => (c.emulation.script[0].vnet = 'dev'),
        'emulation.script[0].vnet',
        /no virtual network named "dev" \(known: "prod"\)/,
      );
      expectOne(
        (c) => (c.emulation.script[0].node = 'web7'),
        'emulation.script[0].node',
        /no node named "web7" in network "prod"/,
      );
      expectOne(
        (c) => (c.emulation.script[0].to = 'ghost'),
        'emulation.script[0].to',
        /no node named "ghost"/,
      );
    });
    it('refuses announcing from a node without an appliance', () => {
      expectOne(
        (c) =>
          c.emulation.script.push({
            at: 60,
            action: 'announce',
            vnet: 'prod',
            node: 'db1',
            prefix: '10.2.1.0/24',
          }),
        'emulation.script[1].node',
        /node "db1" has no appliance/,
      );
    });
    it('refuses a failover without a target, and to: on other actions', () => {
      expectOne((c) => delete c.emulation.script[0].to, 'emulation.script[0].to', /a failover needs to:/);
      expectOne(
        (c) => (c.emulation.script[0].action = 'withdraw'),
        'emulation.script[0].to',
        /only a failover takes to:/,
      );
    });
    it('refuses times that do not parse or lie beyond a year', () => {
      expectOne(
        (c) => (c.emulation.script[0].at = 'tomorrow'),
        'emulation.script[0].at',
        /expected a time from the start of the emulation.*got "tomorrow"/,
      );
      expectOne((c) => (c.emulation.attacks[0].at = '400d'), 'emulation.attacks[0].at', /at most 366 days/);
      expectOne((c) => (c.emulation.attacks[0].at = -5), 'emulation.attacks[0].at', /got -5/);
    });
    it('asks traffic attacks for a source (spoofed for a SYN flood) and a target', () => {
      const cfg = base();
      delete cfg.emulation.attacks[0].source;
      expect(load(cfg).emulation!.attacks[0].source).toBeUndefined();
      expectOne(
        (c) => delete c.emulation.attacks[1].source,
        'emulation.attacks[1].source',
        /a port-scan attack needs source:/,
      );
      expectOne(
        (c) => delete c.emulation.attacks[0].target,
        'emulation.attacks[0].target',
        /a syn-flood attack needs target:/,
      );
      expectOne(
        (c) => (c.emulation.attacks[0].target = '10.10.0.0/24'),
        'emulation.attacks[0].target',
        /expected an IPv4 or IPv6 address/,
      );
      expectOne(
        (c) => (c.emulation.attacks[1].target = 'everything'),
        'emulation.attacks[1].target',
        /expected an address or a prefix to scan/,
      );
      expectOne(
        (c) => (c.emulation.attacks[3].node = 'db2'),
        'emulation.attacks[3].node',
        /no node named "db2"/,
      );
    });
    it('asks a DNS tunnel for its domain and an exfiltration for its size, and one address family per attack', () => {
      const tunnel = { kind: 'dns-tunnel', vnet: 'prod', at: '4h', node: 'db1', target: '10.2.0.5' };
      expectOne(
        (c) => c.emulation.attacks.push(tunnel),
        'emulation.attacks[4].domain',
        /a dns-tunnel attack needs domain:/,
      );
      expectOne(
        (c) => c.emulation.attacks.push({ ...tunnel, domain: 'not a domain' }),
        'emulation.attacks[4].domain',
        /needs domain:/,
      );
      const exfil = { kind: 'exfiltration', vnet: 'prod', at: '5h', node: 'db1', target: '192.0.2.9' };
      expectOne(
        (c) => c.emulation.attacks.push(exfil),
        'emulation.attacks[4].bytes',
        /an exfiltration attack needs bytes:/,
      );
      expectOne(
        (c) => (c.emulation.attacks[0].target = '2001:db8::1'),
        'emulation.attacks[0].target',
        /2001:db8::1 is IPv6 but the source 198\.51\.100\.7 is IPv4/,
      );
    });
    it('sends C2 beacons only to the threat list', () => {
      expectOne(
        (c) => (c.emulation.threatList = []),
        'emulation.attacks[3].kind',
        /threatList, which is empty/,
      );
      expectOne(
        (c) => (c.emulation.attacks[3].target = '192.0.2.1'),
        'emulation.attacks[3].target',
        /192\.0\.2\.1 is not on emulation\.threatList/,
      );
    });
    it('asks routing attacks for an appliance node, a prefix and (leaks) an AS path', () => {
      expectOne(
        (c) => delete c.emulation.attacks[2].node,
        'emulation.attacks[2].node',
        /a route-leak attack needs node:/,
      );
      expectOne(
        (c) => (c.emulation.attacks[2].node = 'db1'),
        'emulation.attacks[2].node',
        /node "db1" has no appliance/,
      );
      expectOne((c) => delete c.emulation.attacks[2].prefix, 'emulation.attacks[2].prefix', /needs prefix:/);
      expectOne(
        (c) => delete c.emulation.attacks[2].asPath,
        'emulation.attacks[2].asPath',
        /a route-leak attack needs asPath:/,
      );
      expectOne(
        (c) => c.emulation.attacks.push({ kind: 'prefix-hijack', vnet: 'prod', at: '5h', node: 'web2' }),
        'emulation.attacks[4].prefix',
        /a prefix-hijack attack needs prefix:/,
      );
    });
    it('reports every problem at once', () => {
      const found = refused((c) => {
        vnet(c).nodes[2].host = 'h9';
        c.emulation.script[0].vnet = 'dev';
        c.substrate.links.push({ a: 'x', b: 'h1', capacity: 1e9 });
      });
      expect(found.map((i) => i.path).sort()).toEqual(
        ['emulation.script[0].vnet', 'substrate.links[2].a', 'vnets[0].nodes[2].host'].sort(),
      );
    });
  });

  it('parses emulation times', () => {
    expect(parseEmulationOffset(90)).toBe(90);
    expect(parseEmulationOffset('90')).toBe(90);
    expect(parseEmulationOffset('10m')).toBe(600);
    expect(parseEmulationOffset('1d2h')).toBe(93600);
    expect(parseEmulationOffset('1w 2d 3h 30m 15s')).toBe(604800 + 2 * 86400 + 3 * 3600 + 1800 + 15);
    expect(parseEmulationOffset('1500ms')).toBe(1.5);
    expect(parseEmulationOffset('1h junk')).toBeUndefined();
    expect(parseEmulationOffset('')).toBeUndefined();
    expect(parseEmulationOffset(MAX_EMULATION_OFFSET_SECONDS + 1)).toBeUndefined();
  });
});
