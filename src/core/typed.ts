/** Typed arrays that grow by copying into a larger one of the same kind. */
export type GrowableArray = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/** A copy of `a` in a new array of the same kind and length `n` (≥ a.length); the rest is zero. Not for Buffers. */
export function grown<T extends GrowableArray>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
