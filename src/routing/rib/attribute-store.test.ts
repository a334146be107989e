import { describe, expect, it } from 'vitest';
import { AttributeStore } from './attribute-store.js';
import { RibErrorCode } from './errors.js';
import { type RouteAttributes, routeAttributes } from '../../core/types.js';

function attrs(over: Partial<RouteAttributes> & { path?: number[] } = {}): RouteAttributes {
  const { path, ...rest } = over;
  return routeAttributes({ nextHop: '192.0.2.1', asSequence: path, ...rest });
}

describe('AttributeStore', () => {
  it('returns one frozen object per key and builds it once', () => {
    const store = new AttributeStore();
    let built = 0;
    const make = () => {
      built++;
      return attrs({ path: [65001, 65002], communities: [1] });
    };
    const a = store.intern('k1', make);
    const b = store.intern('k1', make);
    expect(a).toBe(b);
    expect(built).toBe(1);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.asPath[0].asns)).toBe(true);
    expect(Object.isFrozen(a.communities)).toBe(true);
    expect(store.size).toBe(1);
  });

  it('internValue shares equal values and tells different ones apart', () => {
    const store = new AttributeStore();
    const a = store.internValue(attrs({ path: [1, 2], med: 5 }));
    const b = store.internValue(attrs({ path: [1, 2], med: 5 }));
    const c = store.internValue(attrs({ path: [1, 2], med: 6 }));
    const d = store.internValue(attrs({ path: [12], med: 5 }));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).not.toBe(d);
    expect(store.internValue(a)).toBe(a);
    expect(store.size).toBe(3);
  });

  it('keeps unknown attribute bytes apart in the value key', () => {
    const store = new AttributeStore();
    const u = (v: number[]) => attrs({ unknown: [{ flags: 0xc0, code: 99, value: new Uint8Array(v) }] });
    expect(store.internValue(u([1, 2]))).not.toBe(store.internValue(u([1, 3])));
    expect(store.internValue(u([1, 2]))).toBe(store.internValue(u([1, 2])));
  });

  it('forgets a set when its last holder releases it', () => {
    const store = new AttributeStore();
    const a = store.intern('x', () => attrs());
    store.retain(a);
    store.retain(a);
    expect(store.refs(a)).toBe(2);
    store.release(a);
    expect(store.size).toBe(1);
    store.release(a);
    expect(store.size).toBe(0);
    expect(store.has(a)).toBe(false);
    // A fresh intern under the same key builds a new object.
    expect(store.intern('x', () => attrs())).not.toBe(a);
  });

  it('refuses to retain attributes it never interned', () => {
    const store = new AttributeStore();
    expect(() => store.retain(attrs())).toThrow(expect.objectContaining({ code: RibErrorCode.NOT_INTERNED }));
  });

  it('sweeps sets nobody retained, sparing ones interned since the last sweep', () => {
    const store = new AttributeStore();
    const kept = store.intern('kept', () => attrs({ med: 1 }));
    store.retain(kept);
    store.intern('orphan', () => attrs({ med: 2 }));
    expect(store.sweep()).toBe(0);
    const young = store.intern('young', () => attrs({ med: 3 }));
    expect(store.sweep()).toBe(1);
    expect(store.has(kept)).toBe(true);
    expect(store.has(young)).toBe(true);
    expect(store.size).toBe(2);
  });

  it('sweeps on its own when many sets are never retained', () => {
    const store = new AttributeStore();
    for (let i = 0; i < 20_000; i++) store.intern(`k${i}`, () => attrs({ med: i }));
    expect(store.size).toBeLessThan(20_000);
  });
});
