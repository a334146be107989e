/**
 * The shadowing engine follows a real BGP peer: BIRD announces an
 * application prefix with a community, a mirror session selects traffic to
 * routes carrying it, and when BIRD withdraws the prefix the copies stop at
 * the next batch.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PacketBatchBuilder } from '../../src/core/index.js';
import { ShadowEngine, type CopyBatchMessage } from '../../src/shadow/index.js';
import { parseConfig } from '../../src/vnet/index.js';
import { frame } from '../helpers/packets.js';
import { InteropSlot, addressBlock, requireBinary, startBird, useInteropLab, type BirdInstance } from './harness/index.js';
import { startRii, type RiiUnderTest } from './harness/rii.js';

const a = addressBlock(InteropSlot.TSE_BIRD);
const VR = { name: 'vr1', asn: 65000, routerId: '10.255.5.1', address: a.host(1), port: a.port(1) };
const BIRD = { address: a.host(2), port: a.port(2), asn: 65001, routerId: '10.255.5.2' };

const SHADOW = `
shadow:
  targets: [{ name: asc, type: bus, topic: copies }]
  sessions:
    - name: tagged-by-bird
      vnet: prod
      priority: 10
      target: asc
      rules: [{ action: accept, protocol: tcp, destinationRoute: { community: ["65001:700"], peer: [${BIRD.address}] } }]
`;

describe.skipIf(requireBinary('bird', 'birdc'))('TSE ↔ BIRD routing changes', () => {
  let rii: RiiUnderTest | undefined;
  let bird: BirdInstance;
  let engine: ShadowEngine;
  const copies: CopyBatchMessage[] = [];
  const lab = useInteropLab('tse-bird');
  let t = 1_790_000_000;

  const batch = (n: number) => {
    const b = new PacketBatchBuilder('test', 1, 256, 256 * 200, 'prod');
    for (let i = 0; i < n; i++) {
      const f = frame({ src: '10.1.0.1', dst: `10.60.0.${i + 1}`, srcPort: 40000 + i, dstPort: 443, payload: 50 });
      b.push(f, f.length, t, 0);
    }
    t += 1;
    return b;
  };
  const copied = () => copies.reduce((n, m) => n + m.count, 0);

  beforeAll(async () => {
    rii = await startRii({ cidrs: ['10.0.0.0/8'], router: VR, peers: [{ address: BIRD.address, asn: BIRD.asn, passive: true }] });
    const config = parseConfig(rii.yaml + SHADOW, 'tse.yaml');
    engine = new ShadowEngine({ config, bus: rii.rii.bus, clock: rii.rii.clock, routing: rii.rii });
    engine.start();
    rii.rii.bus.subscribe<CopyBatchMessage>('copies', (m) => copies.push(m));
    bird = await startBird(lab, {
      routerId: BIRD.routerId,
      address: BIRD.address,
      asn: BIRD.asn,
      listenPort: BIRD.port,
      neighbors: [{ name: 'vr1', address: VR.address, port: VR.port, asn: VR.asn }],
      staticRoutes: [
        { prefix: '10.60.0.0/16', communities: [[65001, 700]] },
        { prefix: '10.70.0.0/16', communities: [[65001, 800]] },
      ],
    });
    await rii.waitRoute('10.60.0.0/16');
    await rii.waitRoute('10.70.0.0/16');
  });

  afterAll(async () => {
    await engine?.stop();
    await rii?.stop();
  });

  test('traffic to the tagged prefix is copied; other traffic is not', async () => {
    engine.process(batch(20));
    await engine.flush();
    expect(copied()).toBe(20);
    const other = new PacketBatchBuilder('test', 1, 8, 4096, 'prod');
    const f = frame({ src: '10.1.0.1', dst: '10.70.0.1', dstPort: 443 });
    other.push(f, f.length, t, 0);
    engine.process(other);
    await engine.flush();
    expect(copied()).toBe(20);
  });

  test('BIRD withdraws the prefix: the next batch is not copied', async () => {
    await bird.removeRoute('10.60.0.0/16');
    await rii!.waitNoRoute('10.60.0.0/16');
    engine.process(batch(20));
    await engine.flush();
    expect(copied()).toBe(20);
    expect(engine.stats().sessions[0]).toMatchObject({ matched: 20, copied: 20 });
  });

  test('BIRD announces it again: copies resume at the next batch', async () => {
    await bird.addRoute({ prefix: '10.60.0.0/16', communities: [[65001, 700]] });
    await rii!.waitRoute('10.60.0.0/16');
    engine.process(batch(5));
    await engine.flush();
    expect(copied()).toBe(25);
  });
});
