import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { flowFor, materializeFlow, TrafficError, type FlowSpec } from './flows.js';
import type { Flow, FlowKind } from '../types.js';
import * as tcp from '../../../wire/tcp.js';
import { verifyTransportChecksum } from '../../../wire/checksum.js';
import { verifyHeaderChecksum } from '../../../wire/ipv4.js';

const KINDS: FlowKind[] = ['dns', 'http', 'tls', 'ssh', 'bulk', 'port-scan', 'syn-flood', 'dns-tunnel', 'c2-beacon', 'exfiltration'];
const PORTS: Record<FlowKind, number> = { dns: 53, http: 80, tls: 443, ssh: 22, bulk: 9000, 'port-scan': 22, 'syn-flood': 443, 'dns-tunnel': 53, 'c2-beacon': 443, exfiltration: 443 };

function spec(kind: FlowKind, seed: number, v6: boolean, extra: Partial<FlowSpec> = {}): FlowSpec {
  return {
    id: seed,
    vnet: 'prod',
    client: v6 ? '2001:db8:1::10' : '10.1.2.3',
    clientPort: 40000 + (seed % 20000),
    server: v6 ? '2001:db8:2::20' : '10.9.8.7',
    serverPort: PORTS[kind],
    start: 1_767_571_200_000,
    hostname: kind === 'dns-tunnel' ? 't.evil.example' : 'shop.example.com',
    seed,
    ...extra,
  };
}

function collect(flow: Flow) {
  const frames: { frame: Uint8Array; t: number; toServer: boolean }[] = [];
  materializeFlow(flow, (frame, t, toServer) => frames.push({ frame, t, toServer }));
  return frames;
}

function totals(frames: ReturnType<typeof collect>) {
  const s = { ps: 0, bs: 0, pc: 0, bc: 0 };
  for (const f of frames) {
    if (f.toServer) {
      s.ps++;
      s.bs += f.frame.length;
    } else {
      s.pc++;
      s.bc += f.frame.length;
    }
  }
  return s;
}

describe('flowFor + materializeFlow', () => {
  it('produces exactly the counted frames and bytes per direction, for every kind and many sizes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 400_000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
        (kind, seed, v6, targetBytes, packets) => {
          // Bulk transfers default to megabytes; keep the property quick.
          const target = targetBytes ?? (kind === 'bulk' || kind === 'exfiltration' ? 100_000 : undefined);
          const flow = flowFor(kind, spec(kind, seed, v6, { targetBytes: target, packets }));
          const frames = collect(flow);
          expect(totals(frames)).toEqual({ ps: flow.packetsToServer, bs: flow.bytesToServer, pc: flow.packetsToClient, bc: flow.bytesToClient });
          expect(frames[0].t).toBe(flow.start);
          expect(frames[frames.length - 1].t).toBe(flow.start + flow.duration);
          for (let i = 1; i < frames.length; i++) expect(frames[i].t).toBeGreaterThanOrEqual(frames[i - 1].t);
        },
      ),
      { numRuns: 250 },
    );
  });

  it('honours counts other than its own defaults: extra pure ACKs and larger payloads', () => {
    for (const kind of ['http', 'tls', 'ssh', 'bulk'] as const) {
      const f = flowFor(kind, spec(kind, 7, false));
      const grown: Flow = { ...f, packetsToServer: f.packetsToServer + 3, bytesToServer: f.bytesToServer + 3 * 54 + 1000, packetsToClient: f.packetsToClient + 1, bytesToClient: f.bytesToClient + 54 };
      const t = totals(collect(grown));
      expect(t).toEqual({ ps: grown.packetsToServer, bs: grown.bytesToServer, pc: grown.packetsToClient, bc: grown.bytesToClient });
    }
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const hex = (s: number) => collect(flowFor('tls', spec('tls', s, false, { targetBytes: 8000 }))).map((x) => `${x.t} ${x.toServer} ${Buffer.from(x.frame).toString('hex')}`);
    expect(hex(42)).toEqual(hex(42));
    expect(hex(42)).not.toEqual(hex(43));
  });

  it('writes correct IPv4 and TCP checksums and consistent sequence numbers', () => {
    const flow = flowFor('http', spec('http', 99, false, { targetBytes: 30_000 }));
    const frames = collect(flow);
    const next = new Map<boolean, number>();
    for (const { frame, toServer } of frames) {
      expect(verifyHeaderChecksum(frame, 14)).toBe(true);
      expect(verifyTransportChecksum(frame.subarray(26, 30), frame.subarray(30, 34), 6, frame, 34)).toBe(true);
      const h = tcp.decode(frame, 34);
      const len = frame.length - 34 - h.bytes;
      if (next.has(toServer)) expect(h.value.sequence).toBe(next.get(toServer));
      next.set(toServer, (h.value.sequence + len + (h.value.flags & (tcp.TcpFlag.SYN | tcp.TcpFlag.FIN) ? 1 : 0)) >>> 0);
      if (h.value.flags & tcp.TcpFlag.ACK) expect(h.value.acknowledgment).toBe(next.get(!toServer));
    }
  });

  it('refuses counts a kind cannot realise, with a typed error', () => {
    const f = flowFor('http', spec('http', 1, false));
    expect(() => collect({ ...f, bytesToServer: 100 })).toThrow(TrafficError);
    const s = flowFor('syn-flood', spec('syn-flood', 1, false, { packets: 5 }));
    try {
      collect({ ...s, bytesToServer: s.bytesToServer + 1 });
      expect.unreachable();
    } catch (e) {
      expect((e as TrafficError).code).toBe('SHADOWNET_ERR_FLOW_INFEASIBLE');
    }
  });
});
