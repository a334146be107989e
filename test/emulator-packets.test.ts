import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { flowFor, materializeFlow, type FlowSpec } from '../src/vnet/emulator/traffic/flows.js';
import type { Flow, FlowKind } from '../src/vnet/emulator/types.js';
import { encodePcap } from '../src/wire/pcap.js';
import { requireTshark, tsharkFields } from './helpers/tshark.js';

const START = Date.parse('2026-01-05T09:00:00Z');
const CHECKSUMS = ['ip.check_checksum:TRUE', 'tcp.check_checksum:TRUE', 'udp.check_checksum:TRUE'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shadownet-emulator-packets-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function spec(kind: FlowKind, n: number, extra: Partial<FlowSpec> = {}): FlowSpec {
  const v6 = n % 3 === 2;
  return {
    id: n,
    vnet: 'prod',
    client: v6 ? `2001:db8:1::${n + 10}` : `10.1.0.${n + 10}`,
    clientPort: 41000 + n,
    server: v6 ? '2001:db8:2::53' : '10.2.0.5',
    serverPort: 443,
    start: START + n * 10_000,
    seed: 1000 + n,
    ...extra,
  };
}

/** Materialize flows into one pcap, frames of all flows merged in time order. */
function writeFlows(name: string, flows: readonly Flow[]): { file: string; frames: { flow: Flow; toServer: boolean; length: number }[] } {
  const all: { t: number; data: Uint8Array; flow: Flow; toServer: boolean; seq: number }[] = [];
  for (const flow of flows) materializeFlow(flow, (data, t, toServer) => all.push({ t, data, flow, toServer, seq: all.length }));
  all.sort((a, b) => a.t - b.t || a.seq - b.seq);
  const file = join(dir, name);
  writeFileSync(
    file,
    encodePcap(all.map((r) => ({ seconds: Math.floor(r.t / 1000), nanoseconds: Math.round((r.t % 1000) * 1e6) - (Math.round((r.t % 1000) * 1e6) % 1000), data: r.data }))),
  );
  return { file, frames: all.map((r) => ({ flow: r.flow, toServer: r.toServer, length: r.data.length })) };
}

const values = (rows: string[][], col = 0) => rows.map((r) => r[col]).filter((v) => v !== '');

describe.runIf(requireTshark())('emulated packets read by tshark', () => {
  it('decodes DNS names, HTTP hosts, TLS SNI and SSH versions as configured', () => {
    const flows = [
      flowFor('dns', spec('dns', 0, { serverPort: 53, hostname: 'api.shop.example' })),
      flowFor('dns', spec('dns', 1, { serverPort: 53, hostname: 'db.internal.example', packets: 2 })),
      flowFor('http', spec('http', 2, { serverPort: 80, hostname: 'www.shop.example', targetBytes: 40_000 })),
      flowFor('http', spec('http', 3, { serverPort: 80, hostname: 'static.shop.example', targetBytes: 3_000 })),
      flowFor('tls', spec('tls', 4, { hostname: 'pay.shop.example', targetBytes: 70_000 })),
      flowFor('tls', spec('tls', 5, { hostname: 'login.shop.example' })),
      flowFor('ssh', spec('ssh', 6, { serverPort: 22, targetBytes: 20_000 })),
      flowFor('c2-beacon', spec('c2-beacon', 7, { hostname: 'updates.cdn-metrics.example' })),
      flowFor('dns-tunnel', spec('dns-tunnel', 8, { serverPort: 53, hostname: 't.exfil.example', packets: 5 })),
      flowFor('exfiltration', spec('exfiltration', 9, { hostname: 'drop.example', targetBytes: 200_000 })),
      flowFor('c2-beacon', spec('c2-beacon', 10, { serverPort: 80, hostname: 'beacon.example' })),
    ];
    const { file } = writeFlows('apps.pcap', flows);
    const rows = tsharkFields(file, ['dns.qry.name', 'dns.flags.response', 'http.host', 'tls.handshake.extensions_server_name', 'ssh.protocol', 'tls.handshake.type', 'http.response.code', 'dns.txt']);
    const names = new Set(values(rows, 0));
    expect(names.has('api.shop.example')).toBe(true);
    expect(names.has('db.internal.example')).toBe(true);
    const tunnel = [...names].filter((n) => n.endsWith('.t.exfil.example'));
    expect(tunnel.length).toBe(5);
    for (const n of tunnel) expect(n.length).toBeGreaterThan(100);
    expect(values(rows, 7).length).toBe(5); // TXT answers
    expect(new Set(values(rows, 2))).toEqual(new Set(['www.shop.example', 'static.shop.example', 'beacon.example']));
    expect(values(rows, 6).filter((c) => c === '200').length).toBe(3);
    expect(new Set(values(rows, 3))).toEqual(new Set(['pay.shop.example', 'login.shop.example', 'updates.cdn-metrics.example', 'drop.example']));
    // ClientHello (1) and ServerHello (2) per TLS connection.
    const hs = values(rows, 5).flatMap((v) => v.split(','));
    expect(hs.filter((v) => v === '1').length).toBe(4);
    expect(hs.filter((v) => v === '2').length).toBe(4);
    const ssh = values(rows, 4);
    expect(ssh.length).toBe(2);
    for (const s of ssh) expect(s).toMatch(/^SSH-2\.0-/);
  });

  it('has valid checksums and handshakes: no tshark expert errors or malformed packets', () => {
    const flows: Flow[] = [];
    const kinds: [FlowKind, Partial<FlowSpec>][] = [
      ['http', { serverPort: 80, hostname: 'a.example' }],
      ['tls', { hostname: 'b.example' }],
      ['ssh', { serverPort: 22 }],
      ['bulk', { serverPort: 9000, targetBytes: 300_000 }],
      ['dns', { serverPort: 53, hostname: 'c.example' }],
      ['dns-tunnel', { serverPort: 53, hostname: 'd.example' }],
      ['port-scan', { serverPort: 22, packets: 40, replies: 30 }],
      ['syn-flood', { serverPort: 443, packets: 50, replies: 20 }],
      ['exfiltration', { serverPort: 8443, targetBytes: 100_000 }],
    ];
    kinds.forEach(([k, extra], i) => flows.push(flowFor(k, spec(k, i, extra))));
    const { file, frames } = writeFlows('checks.pcap', flows);
    const all = tsharkFields(file, ['frame.len', '_ws.expert.severity', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.reset', '_ws.malformed'], { preferences: CHECKSUMS });
    expect(all.length).toBe(frames.length);
    expect(all.map((r) => Number(r[0]))).toEqual(frames.map((f) => f.length));
    const bad = tsharkFields(file, ['frame.number', '_ws.expert.message'], { preferences: CHECKSUMS, filter: '_ws.malformed || _ws.expert.severity == "Error" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || ip.checksum.status == "Bad"' });
    expect(bad).toEqual([]);
    const good = tsharkFields(file, ['frame.number'], { preferences: CHECKSUMS, filter: 'tcp.checksum.status == "Good" || udp.checksum.status == "Good"' });
    expect(good.length).toBe(frames.length);
    // Every connection that closes opened with SYN, SYN-ACK, ACK (tshark's completeness bits 1, 2 and 4) and carried data (8).
    const conv = tsharkFields(file, ['tcp.completeness'], { filter: 'tcp.flags.fin == 1' });
    expect(conv.length).toBe(2 * 5);
    for (const [c] of conv) expect(Number(c) & 15).toBe(15);
    const rsts = all.filter((r) => r[4] === '1' || r[4] === 'True').length;
    expect(rsts).toBeGreaterThan(0);
  });

  it('gives tshark exactly the counted frames and bytes per direction, across random sizes', () => {
    const flows = fc.sample(
      fc.record({
        kind: fc.constantFrom<FlowKind>('dns', 'http', 'tls', 'ssh', 'bulk', 'port-scan', 'syn-flood', 'dns-tunnel', 'c2-beacon', 'exfiltration'),
        target: fc.integer({ min: 1, max: 120_000 }),
        packets: fc.integer({ min: 1, max: 30 }),
      }),
      { numRuns: 40, seed: 2026 },
    ).map((r, i) => flowFor(r.kind, spec(r.kind, i, { serverPort: r.kind === 'ssh' ? 22 : 443, hostname: 'x.example', targetBytes: r.target, packets: r.packets })));
    const { file, frames } = writeFlows('counts.pcap', flows);
    const lens = tsharkFields(file, ['frame.len']).map((r) => Number(r[0]));
    expect(lens.length).toBe(frames.length);
    const byFlow = new Map<number, { ps: number; bs: number; pc: number; bc: number }>();
    frames.forEach((f, i) => {
      const s = byFlow.get(f.flow.id) ?? { ps: 0, bs: 0, pc: 0, bc: 0 };
      if (f.toServer) {
        s.ps++;
        s.bs += lens[i];
      } else {
        s.pc++;
        s.bc += lens[i];
      }
      byFlow.set(f.flow.id, s);
    });
    for (const f of flows) expect(byFlow.get(f.id) ?? { ps: 0, bs: 0, pc: 0, bc: 0 }).toEqual({ ps: f.packetsToServer, bs: f.bytesToServer, pc: f.packetsToClient, bc: f.bytesToClient });
  });
});
