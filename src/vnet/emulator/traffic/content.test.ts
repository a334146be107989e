import { describe, expect, it } from 'vitest';
import { clientHello, encodeClientHello, encodeServerHello, serverHello } from './content.js';
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
