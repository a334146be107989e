import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../core/clock.js';
import type { PacketBatch } from '../../core/packet.js';
import { VxlanReceiver } from './vxlan-receiver.js';

const frame = (tag: number, len = 60): Uint8Array => new Uint8Array(len).fill(tag);
const vxlan = (vni: number, inner: Uint8Array, flags = 0x08): Buffer =>
  Buffer.concat([Buffer.from([flags, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), inner]);
const geneve = (vni: number, proto: number, inner: Uint8Array, b0 = 0, b1 = 0): Buffer =>
  Buffer.concat([
    Buffer.from([b0, b1, proto >> 8, proto & 0xff, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]),
    inner,
  ]);

async function send(port: number, datagrams: Buffer[]): Promise<void> {
  const s = createSocket('udp4');
  for (const d of datagrams)
    await new Promise<void>((res, rej) => s.send(d, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  s.close();
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('VxlanReceiver', () => {
  it('decapsulates VXLAN and GENEVE into batches per virtual network, counting what it drops', async () => {
    const clock = new SimulatedClock(Date.UTC(2026, 0, 5, 0, 0, 1, 250));
    const rx = new VxlanReceiver({
      address: '127.0.0.1',
      port: 24210,
      geneve: 24211,
      vniToVnet: new Map([
        [100, 'prod'],
        [200, 'dev'],
      ]),
      clock,
    });
    const got: { vnet?: string; linkType: number; firsts: number[]; sec: number; nsec: number }[] = [];
    const running = rx.run((b: PacketBatch) => {
      const firsts: number[] = [];
      for (let i = 0; i < b.count; i++) firsts.push(b.data[b.offsets[i]]);
      got.push({ vnet: b.vnet, linkType: b.linkType, firsts, sec: b.tsSec[0], nsec: b.tsNsec[0] });
    });
    expect(await rx.bound()).toEqual({ port: 24210, genevePort: 24211 });
    await send(24210, [
      vxlan(100, frame(1)),
      vxlan(200, frame(2)),
      vxlan(100, frame(3)),
      vxlan(300, frame(4)), // unknown VNI
      vxlan(100, frame(5), 0x00), // I flag clear
      Buffer.from([8, 0, 0]), // short
      vxlan(100, frame(6, 10)), // no room for an Ethernet header
    ]);
    await send(24211, [
      geneve(200, 0x6558, frame(7)),
      geneve(200, 0x0800, Uint8Array.of(0x45, 0, 0, 20)),
      geneve(100, 0x6558, frame(8), 0, 0x80), // OAM
      geneve(100, 0x6558, frame(9), 0x40), // version 1
      geneve(999, 0x6558, frame(10)),
    ]);
    await until(() => rx.stats.datagrams === 12 && got.reduce((n, g) => n + g.firsts.length, 0) === 5);
    await rx.stop();
    await running;
    const by = (vnet: string, lt: number): number[] =>
      got.filter((g) => g.vnet === vnet && g.linkType === lt).flatMap((g) => g.firsts);
    expect(by('prod', 1)).toEqual([1, 3]);
    expect(by('dev', 1)).toEqual([2, 7]);
    expect(by('dev', 228)).toEqual([0x45]);
    expect(got[0]).toMatchObject({ sec: Math.floor(clock.now() / 1000), nsec: 250_000_000 });
    expect(rx.stats).toMatchObject({
      datagrams: 12,
      packets: 5,
      dropped: {
        'vxlan-unknown-vni': 1,
        'vxlan-bad-flags': 1,
        'vxlan-truncated': 2,
        'geneve-oam': 1,
        'geneve-bad-version': 1,
        'geneve-unknown-vni': 1,
      },
    });
  });

  it('fails clearly when the port is taken', async () => {
    const a = new VxlanReceiver({ address: '127.0.0.1', port: 24212, vniToVnet: new Map() });
    const ra = a.run(() => {});
    await a.bound();
    const b = new VxlanReceiver({ address: '127.0.0.1', port: 24212, vniToVnet: new Map() });
    await expect(b.run(() => {})).rejects.toThrow(/cannot listen on 127.0.0.1 port 24212: .*EADDRINUSE/);
    await a.stop();
    await ra;
  });
});
