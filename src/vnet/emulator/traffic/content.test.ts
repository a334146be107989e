import { describe, expect, it } from 'vitest';
import { clientHello, encodeClientHello, encodeServerHello, flowShape, serverHello, shapeHash, streamMinimum, streamMinimumOf, streamSegments, streamSegmentsOf, type StreamLayout } from './content.js';
import { createRng } from './rng.js';

describe('TLS hellos from templates', () => {
  it('are byte for byte the hellos encoded field by field, for any host and seed', () => {
    for (const host of ['a.example', 'checkout.example.com', 'x'.repeat(60) + '.example.org'])
      for (const seed of [0, 1, 77, 2 ** 31 + 9]) {
        expect(clientHello(host, createRng(seed))).toEqual(encodeClientHello(host, createRng(seed)));
        expect(serverHello(createRng(seed))).toEqual(encodeServerHello(createRng(seed)));
      }
  });

  it('leave the generator where the encoder leaves it', () => {
    const a = createRng(5);
    const b = createRng(5);
    clientHello('pay.example', a);
    encodeClientHello('pay.example', b);
    expect(a.int(1 << 30)).toBe(b.int(1 << 30));
  });
});

describe('streamMinimumOf and streamSegmentsOf', () => {
  it('give what streamMinimum and streamSegments give for the flow’s shape', () => {
    const layouts: StreamLayout[] = ['http', 'tls', 'ssh', 'raw'];
    for (let seed = 0; seed < 400; seed++) {
      const shape = flowShape(seed * 7919);
      const h = shapeHash(seed * 7919);
      for (const layout of layouts) {
        const host = seed % 2 ? 'checkout.example.com' : 'a.b';
        const min = streamMinimum(layout, shape, host);
        expect(streamMinimumOf(layout, h, host, { client: -1, server: -1 })).toEqual(min);
        const client = min.client + ((seed * 131) % 5000);
        const server = min.server + ((seed * 977) % 90000);
        const want = streamSegments(layout, shape, host, client, server, 1460, { turns: 0, client: 0, server: 0 });
        expect(streamSegmentsOf(layout, h, host, client, server, 1460, { turns: -1, client: -1, server: -1 })).toEqual(want);
      }
    }
  });
});
