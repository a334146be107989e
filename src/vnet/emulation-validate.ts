/**
 * Cross-reference checks for the emulated network (substrate, nodes,
 * applications, script, attacks): every problem named by its path in the file.
 *
 * Rules worth knowing when writing a config:
 * - An application may be served by several nodes, but only on one substrate
 *   host: an application on two hosts at once is refused (its load, CPU and
 *   memory are modelled as one pool on one host).
 * - Every application is served by at least one node.
 * - Once a network has nodes or applications, or the emulation's script or
 *   attacks name it, its virtual routers need a substrate `host` (traffic from
 *   outside the network enters there); a network with nodes needs a `vni`
 *   (its overlay identifier). Other networks are left alone.
 * - A syn-flood may omit `source` (its sources are spoofed); the other
 *   traffic attacks name their `source` address or attacking `node`.
 * - The hosts a network uses must reach each other over `substrate.links`.
 */
import {
  formatAddress,
  parsePrefix,
  prefixContains,
  tryParseAddress,
  type ConfigIssue,
  type Prefix,
} from '../core/index.js';
import type { ShadownetConfig, VnetConfig } from './config.js';

/** The latest a script step or attack may start, and the longest an attack may last: a year. */
export const MAX_EMULATION_OFFSET_SECONDS = 366 * 86400;

const OFFSET_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Seconds from the start of the emulation for a script step's or attack's
 * `at`: a number of seconds, or text such as "90", "90s", "10m", "1d2h",
 * "1w 2d 3h 30m". Undefined when it does not parse or lies outside
 * 0..{@link MAX_EMULATION_OFFSET_SECONDS}.
 */
export function parseEmulationOffset(at: number | string): number | undefined {
  let seconds: number;
  if (typeof at === 'number') seconds = at;
  else {
    const text = at.trim();
    if (/^\d+(?:\.\d+)?$/.test(text)) seconds = Number(text);
    else {
      if (!/^(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$/.test(text)) return undefined;
      seconds = 0;
      for (const m of text.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/g))
        seconds += Number(m[1]) * OFFSET_UNITS[m[2]];
    }
  }
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_EMULATION_OFFSET_SECONDS) return undefined;
  return seconds;
}

const TRAFFIC_ATTACKS = new Set(['port-scan', 'syn-flood', 'dns-tunnel', 'c2-beacon', 'exfiltration']);

const canonical = (address: string): string => formatAddress(tryParseAddress(address)!);
const familyOf = (p: Prefix): string => (p.address.length === 4 ? 'IPv4' : 'IPv6');
const addressPrefix = (address: string): Prefix => parsePrefix(address);
const quoteList = (names: Iterable<string>): string => [...names].map((n) => `"${n}"`).join(', ') || 'none';

/** Connected components of the substrate: host name → component number. */
function substrateComponents(cfg: ShadownetConfig): Map<string, number> {
  const parent = new Map<string, string>();
  for (const h of cfg.substrate.hosts) parent.set(h.name, h.name);
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  for (const l of cfg.substrate.links) {
    if (!parent.has(l.a) || !parent.has(l.b)) continue;
    const ra = find(l.a);
    const rb = find(l.b);
    if (ra !== rb) parent.set(ra, rb);
  }
  const ids = new Map<string, number>();
  const out = new Map<string, number>();
  for (const h of parent.keys()) {
    const r = find(h);
    if (!ids.has(r)) ids.set(r, ids.size);
    out.set(h, ids.get(r)!);
  }
  return out;
}

function substrateIssues(cfg: ShadownetConfig, hosts: Map<string, number>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  cfg.substrate.hosts.forEach((h, i) => {
    const first = hosts.get(h.name)!;
    if (first !== i)
      issues.push({
        path: `substrate.hosts[${i}].name`,
        message: `duplicate host name "${h.name}" (also hosts[${first}])`,
      });
  });
  cfg.substrate.links.forEach((l, i) => {
    for (const end of ['a', 'b'] as const) {
      if (!hosts.has(l[end]))
        issues.push({
          path: `substrate.links[${i}].${end}`,
          message: `a link to nowhere: no host named "${l[end]}" in substrate.hosts (known: ${quoteList(hosts.keys())})`,
        });
    }
    if (l.a === l.b)
      issues.push({ path: `substrate.links[${i}].b`, message: `a link from host "${l.a}" to itself` });
    if (l.latency < 0 || l.latency > 10)
      issues.push({ path: `substrate.links[${i}].latency`, message: 'expected a latency of 0..10 seconds' });
  });
  return issues;
}

interface VnetFacts {
  readonly index: number;
  readonly vnet: VnetConfig;
  readonly nodes: Map<string, number>;
}

function vnetIssues(
  cfg: ShadownetConfig,
  vi: number,
  hosts: Map<string, number>,
  components: Map<string, number>,
  scheduled: ReadonlySet<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const v = cfg.vnets[vi];
  const vp = `vnets[${vi}]`;
  const cidrs = v.cidrs.map((c) => parsePrefix(c));
  const insideVnet = (p: Prefix): boolean => cidrs.some((c) => prefixContains(c, p));
  const cidrText = v.cidrs.join(', ');
  const active = scheduled.has(v.name) || v.nodes.length > 0 || v.applications.length > 0;

  if (v.nodes.length > 0 && v.vni === undefined)
    issues.push({
      path: `${vp}.vni`,
      message: 'a network with nodes needs a vni (the identifier its overlay traffic is encapsulated with)',
    });

  // Routers: the emulator runs each on a substrate host.
  const routers = new Map<string, number>();
  v.routers.forEach((r, ri) => {
    if (!routers.has(r.name)) routers.set(r.name, ri);
    const rp = `${vp}.routers[${ri}]`;
    if (r.host === undefined) {
      if (active)
        issues.push({
          path: `${rp}.host`,
          message: `a router with no substrate host: router "${r.name}" needs host: one of ${quoteList(hosts.keys())}`,
        });
    } else if (!hosts.has(r.host)) {
      issues.push({
        path: `${rp}.host`,
        message: `no host named "${r.host}" in substrate.hosts (known: ${quoteList(hosts.keys())})`,
      });
    }
  });

  // Subnets: inside the network, disjoint.
  const subnets = new Map<string, { index: number; prefix: Prefix }>();
  v.subnets.forEach((s, si) => {
    const sp = `${vp}.subnets[${si}]`;
    const p = parsePrefix(s.cidr);
    if (subnets.has(s.name))
      issues.push({
        path: `${sp}.name`,
        message: `duplicate subnet name "${s.name}" (also subnets[${subnets.get(s.name)!.index}])`,
      });
    else subnets.set(s.name, { index: si, prefix: p });
    if (!insideVnet(p))
      issues.push({ path: `${sp}.cidr`, message: `${s.cidr} is outside the network's CIDRs (${cidrText})` });
    for (let sj = 0; sj < si; sj++) {
      const q = parsePrefix(v.subnets[sj].cidr);
      if (prefixContains(q, p) || prefixContains(p, q))
        issues.push({
          path: `${sp}.cidr`,
          message: `overlapping subnets: ${s.cidr} overlaps subnets[${sj}] "${v.subnets[sj].name}" (${v.subnets[sj].cidr})`,
        });
    }
  });

  // Applications: unique names, service prefix inside the network.
  const apps = new Map<string, number>();
  v.applications.forEach((a, ai) => {
    const ap = `${vp}.applications[${ai}]`;
    if (apps.has(a.name))
      issues.push({
        path: `${ap}.name`,
        message: `duplicate application name "${a.name}" (also applications[${apps.get(a.name)}])`,
      });
    else apps.set(a.name, ai);
    if (a.prefix !== undefined && !insideVnet(parsePrefix(a.prefix)))
      issues.push({
        path: `${ap}.prefix`,
        message: `service prefix ${a.prefix} is outside the network's CIDRs (${cidrText})`,
      });
  });

  // Nodes.
  const nodeNames = new Map<string, number>();
  const addresses = new Map<string, number>();
  const appliancePeers = new Map<string, number>();
  const servedBy = new Map<string, number[]>();
  v.nodes.forEach((n, ni) => {
    const np = `${vp}.nodes[${ni}]`;
    if (nodeNames.has(n.name))
      issues.push({
        path: `${np}.name`,
        message: `duplicate node name "${n.name}" (also nodes[${nodeNames.get(n.name)}])`,
      });
    else nodeNames.set(n.name, ni);
    if (!hosts.has(n.host))
      issues.push({
        path: `${np}.host`,
        message: `no host named "${n.host}" in substrate.hosts (known: ${quoteList(hosts.keys())})`,
      });

    const addr = addressPrefix(n.address);
    const key = canonical(n.address);
    if (addresses.has(key))
      issues.push({
        path: `${np}.address`,
        message: `address ${n.address} is already used by nodes[${addresses.get(key)}] "${v.nodes[addresses.get(key)!].name}"`,
      });
    else addresses.set(key, ni);
    if (!insideVnet(addr))
      issues.push({
        path: `${np}.address`,
        message: `${n.address} is outside the network's CIDRs (${cidrText})`,
      });
    if (n.subnet !== undefined) {
      const s = subnets.get(n.subnet);
      if (!s)
        issues.push({
          path: `${np}.subnet`,
          message: `no subnet named "${n.subnet}" in this network (known: ${quoteList(subnets.keys())})`,
        });
      else if (!prefixContains(s.prefix, addr))
        issues.push({
          path: `${np}.address`,
          message: `${n.address} is not in its subnet "${n.subnet}" (${v.subnets[s.index].cidr})`,
        });
    }

    n.apps.forEach((app, i) => {
      if (!apps.has(app))
        issues.push({
          path: `${np}.apps[${i}]`,
          message: `no application named "${app}" in this network (known: ${quoteList(apps.keys())})`,
        });
      else servedBy.set(app, [...(servedBy.get(app) ?? []), ni]);
    });

    const ap = n.appliance;
    if (ap) {
      const app = `${np}.appliance`;
      const ri = routers.get(ap.router);
      if (ri === undefined)
        issues.push({
          path: `${app}.router`,
          message: `no router named "${ap.router}" in this network (known: ${quoteList(routers.keys())})`,
        });
      else {
        const r = v.routers[ri];
        const bgpKey = canonical(ap.bgpAddress);
        const peer = r.peers.find((p) => canonical(p.address) === bgpKey);
        if (!peer)
          issues.push({
            path: `${app}.bgpAddress`,
            message: `${ap.bgpAddress} is not a configured peer of router "${r.name}" (its peers: ${r.peers.map((p) => p.address).join(', ') || 'none'})`,
          });
        else if (peer.asn !== ap.asn)
          issues.push({
            path: `${app}.asn`,
            message: `router "${r.name}" expects AS ${peer.asn} from ${ap.bgpAddress}, not AS ${ap.asn}`,
          });
        const sessionKey = `${ri}|${bgpKey}`;
        if (appliancePeers.has(sessionKey))
          issues.push({
            path: `${app}.bgpAddress`,
            message: `nodes[${appliancePeers.get(sessionKey)}] already uses ${ap.bgpAddress} for its session with router "${r.name}"`,
          });
        else appliancePeers.set(sessionKey, ni);
      }
      ap.announce.forEach((p, i) => {
        if (!insideVnet(parsePrefix(p)))
          issues.push({
            path: `${app}.announce[${i}]`,
            message: `service prefix ${p} is outside the network's CIDRs (${cidrText})`,
          });
      });
    }
  });

  // Applications again, now that we know who serves them.
  v.applications.forEach((a, ai) => {
    if (apps.get(a.name) !== ai) return;
    const ap = `${vp}.applications[${ai}]`;
    const servers = servedBy.get(a.name) ?? [];
    if (servers.length === 0) {
      issues.push({
        path: `${ap}.name`,
        message: `no node serves application "${a.name}" (list it under a node's apps)`,
      });
      return;
    }
    const firstHost = v.nodes[servers[0]].host;
    for (const ni of servers.slice(1)) {
      const h = v.nodes[ni].host;
      if (h !== firstHost)
        issues.push({
          path: `${vp}.nodes[${ni}].host`,
          message: `an application on two hosts at once: "${a.name}" is served on host "${h}" here and on host "${firstHost}" by nodes[${servers[0]}] "${v.nodes[servers[0]].name}" (an application's nodes must share one host)`,
        });
    }
    const families = new Set(
      a.prefix !== undefined
        ? [familyOf(parsePrefix(a.prefix))]
        : servers.map((ni) => familyOf(addressPrefix(v.nodes[ni].address))),
    );
    a.clients.forEach((c, ci) => {
      const f = familyOf(parsePrefix(c));
      if (!families.has(f))
        issues.push({
          path: `${ap}.clients[${ci}]`,
          message: `${c} is ${f} but the application is served over ${[...families].join(' and ')}`,
        });
    });
  });

  // The hosts the network uses must reach each other.
  const used: { path: string; host: string }[] = [];
  v.routers.forEach(
    (r, ri) => r.host !== undefined && used.push({ path: `${vp}.routers[${ri}].host`, host: r.host }),
  );
  v.nodes.forEach((n, ni) => used.push({ path: `${vp}.nodes[${ni}].host`, host: n.host }));
  const known = used.filter((u) => components.has(u.host));
  if (known.length > 1) {
    const ref = known[0];
    for (const u of known.slice(1)) {
      if (components.get(u.host) !== components.get(ref.host))
        issues.push({
          path: u.path,
          message: `host "${u.host}" cannot reach host "${ref.host}" (${ref.path}) over substrate.links`,
        });
    }
  }
  return issues;
}

function scheduleIssues(cfg: ShadownetConfig, vnets: Map<string, VnetFacts>): ConfigIssue[] {
  const emu = cfg.emulation;
  if (!emu) return [];
  const issues: ConfigIssue[] = [];
  const threats = emu.threatList.map((t) => parsePrefix(t));
  const atIssue = (path: string, at: number | string): void => {
    if (parseEmulationOffset(at) === undefined)
      issues.push({
        path,
        message: `expected a time from the start of the emulation: seconds, or text such as "90s", "10m", "1d2h", at most ${MAX_EMULATION_OFFSET_SECONDS / 86400} days; got ${JSON.stringify(at)}`,
      });
  };
  const vnetOf = (path: string, name: string): VnetFacts | undefined => {
    const f = vnets.get(name);
    if (!f)
      issues.push({
        path,
        message: `no virtual network named "${name}" (known: ${quoteList(vnets.keys())})`,
      });
    return f;
  };
  /** The node, which must run a routing appliance. */
  const applianceNode = (path: string, f: VnetFacts, name: string): void => {
    const ni = f.nodes.get(name);
    if (ni === undefined)
      issues.push({
        path,
        message: `no node named "${name}" in network "${f.vnet.name}" (known: ${quoteList(f.nodes.keys())})`,
      });
    else if (!f.vnet.nodes[ni].appliance)
      issues.push({
        path,
        message: `node "${name}" has no appliance (routes are announced through an appliance's BGP session)`,
      });
  };

  emu.script.forEach((s, i) => {
    const sp = `emulation.script[${i}]`;
    atIssue(`${sp}.at`, s.at);
    const f = vnetOf(`${sp}.vnet`, s.vnet);
    if (f) applianceNode(`${sp}.node`, f, s.node);
    if (s.action === 'failover') {
      if (s.to === undefined)
        issues.push({
          path: `${sp}.to`,
          message: 'a failover needs to: the node that takes the prefix over',
        });
      else if (s.to === s.node)
        issues.push({ path: `${sp}.to`, message: `a failover from node "${s.node}" to itself` });
      else if (f) applianceNode(`${sp}.to`, f, s.to);
    } else if (s.to !== undefined) {
      issues.push({ path: `${sp}.to`, message: `only a failover takes to: (this step is ${s.action})` });
    }
  });

  emu.attacks.forEach((a, i) => {
    const ap = `emulation.attacks[${i}]`;
    atIssue(`${ap}.at`, a.at);
    if (!(a.duration > 0) || a.duration > MAX_EMULATION_OFFSET_SECONDS)
      issues.push({
        path: `${ap}.duration`,
        message: `expected a duration above 0 and at most ${MAX_EMULATION_OFFSET_SECONDS / 86400} days`,
      });
    const f = vnetOf(`${ap}.vnet`, a.vnet);
    if (TRAFFIC_ATTACKS.has(a.kind)) {
      if (a.source === undefined && a.node === undefined && a.kind !== 'syn-flood')
        issues.push({
          path: `${ap}.source`,
          message: `a ${a.kind} attack needs source: (the attacking address) or node: (the attacking node)`,
        });
      if (a.node !== undefined && f && !f.nodes.has(a.node))
        issues.push({
          path: `${ap}.node`,
          message: `no node named "${a.node}" in network "${f.vnet.name}" (known: ${quoteList(f.nodes.keys())})`,
        });
      if (a.kind === 'c2-beacon' && threats.length === 0)
        issues.push({
          path: `${ap}.kind`,
          message: 'a c2-beacon attack beacons to an address on emulation.threatList, which is empty',
        });
      if (a.target === undefined) {
        if (a.kind !== 'c2-beacon')
          issues.push({
            path: `${ap}.target`,
            message: `a ${a.kind} attack needs target: (the address it is aimed at)`,
          });
      } else {
        const addr = tryParseAddress(a.target);
        let target: Prefix | undefined;
        if (addr) target = addressPrefix(a.target);
        else if (a.kind === 'port-scan') {
          try {
            target = parsePrefix(a.target);
          } catch {
            target = undefined;
          }
        }
        if (!target)
          issues.push({
            path: `${ap}.target`,
            message:
              a.kind === 'port-scan'
                ? `expected an address or a prefix to scan, not ${JSON.stringify(a.target)}`
                : `expected an IPv4 or IPv6 address, not ${JSON.stringify(a.target)}`,
          });
        else if (
          a.kind === 'c2-beacon' &&
          threats.length > 0 &&
          !threats.some((t) => prefixContains(t, target))
        )
          issues.push({
            path: `${ap}.target`,
            message: `${a.target} is not on emulation.threatList (${emu.threatList.join(', ')})`,
          });
        else if (a.source !== undefined && familyOf(addressPrefix(a.source)) !== familyOf(target))
          issues.push({
            path: `${ap}.target`,
            message: `${a.target} is ${familyOf(target)} but the source ${a.source} is ${familyOf(addressPrefix(a.source))}`,
          });
      }
      if (
        a.kind === 'dns-tunnel' &&
        (a.domain === undefined || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(a.domain))
      )
        issues.push({
          path: `${ap}.domain`,
          message:
            'a dns-tunnel attack needs domain: (the domain its queries carry data under, e.g. t.example.net)',
        });
      if (a.kind === 'exfiltration' && a.bytes === undefined)
        issues.push({
          path: `${ap}.bytes`,
          message: 'an exfiltration attack needs bytes: (how much data leaves)',
        });
    } else {
      if (a.node === undefined)
        issues.push({
          path: `${ap}.node`,
          message: `a ${a.kind} attack needs node: (the appliance that announces it)`,
        });
      else if (f) applianceNode(`${ap}.node`, f, a.node);
      if (a.prefix === undefined)
        issues.push({
          path: `${ap}.prefix`,
          message: `a ${a.kind} attack needs prefix: (the prefix announced)`,
        });
      if (a.kind === 'route-leak' && (a.asPath === undefined || a.asPath.length === 0))
        issues.push({
          path: `${ap}.asPath`,
          message: 'a route-leak attack needs asPath: (the leaked AS path, e.g. [64500, 64501])',
        });
    }
  });
  return issues;
}

export function emulationIssues(cfg: ShadownetConfig): ConfigIssue[] {
  const hosts = new Map<string, number>();
  cfg.substrate.hosts.forEach((h, i) => {
    if (!hosts.has(h.name)) hosts.set(h.name, i);
  });
  const issues = substrateIssues(cfg, hosts);
  const components = substrateComponents(cfg);
  const scheduled = new Set(
    [...(cfg.emulation?.script ?? []), ...(cfg.emulation?.attacks ?? [])].map((x) => x.vnet),
  );
  const vnets = new Map<string, VnetFacts>();
  cfg.vnets.forEach((v, vi) => {
    issues.push(...vnetIssues(cfg, vi, hosts, components, scheduled));
    if (vnets.has(v.name)) return;
    const nodes = new Map<string, number>();
    v.nodes.forEach((n, ni) => {
      if (!nodes.has(n.name)) nodes.set(n.name, ni);
    });
    vnets.set(v.name, { index: vi, vnet: v, nodes });
  });
  issues.push(...scheduleIssues(cfg, vnets));
  return issues;
}
