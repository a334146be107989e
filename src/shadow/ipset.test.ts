import { describe, expect, it } from 'vitest';
import { parseAddress, parsePrefix } from '../core/index.js';
import { IpSetRegistry } from './ipset.js';

describe('IpSetRegistry', () => {
  it('replaces a set whole: ids stay, content swaps, bad entries are reported and skipped', () => {
    const sets = new IpSetRegistry();
    const id = sets.declare('intel');
    expect(sets.contains('intel', '192.0.2.1')).toBe(false);
    const r = sets.replace('intel', ['192.0.2.0/24', '2001:db8::1', ' 198.51.100.7 ', '10.0.0.1/8', 'bogus', '300.1.1.1']);
    expect(r.installed).toBe(4);
    expect(r.rejected.map((x) => x.entry)).toEqual(['bogus', '300.1.1.1']);
    expect(sets.rejected).toEqual({ 'bad-prefix': 2 });
    expect(sets.id('intel')).toBe(id);
    expect(['192.0.2.200', '2001:db8::1', '2001:db8::2', '198.51.100.7', '10.200.0.1', '11.0.0.1'].map((a) => sets.contains('intel', a))).toEqual([
      true,
      true,
      false,
      true,
      true,
      false,
    ]);
    const buf = new Uint8Array(40);
    buf.set(parseAddress('2001:db8::1'), 24);
    expect(sets.contains6(id, buf, 24)).toBe(true);
    sets.replace('intel', [parsePrefix('203.0.113.0/24')]);
    expect(sets.contains4(id, 0xcb007105)).toBe(true);
    expect(sets.contains('intel', '192.0.2.200')).toBe(false);
    expect(sets.size('intel')).toBe(1);
    expect(sets.contains('unknown', '192.0.2.1')).toBe(false);
    expect(sets.names).toEqual(['intel']);
  });
});
