/**
 * Loopback addresses and ports for interop tests. Each test file takes its own
 * slot, so files running in parallel never share an address or a port: slot
 * `s` owns 127.0.(10+s).1–254 and TCP ports 20000+100·s … 20000+100·s+99.
 * Linux answers on all of 127/8 without configuration.
 */
export const InteropSlot = {
  HARNESS: 1,
  RII_BIRD: 2,
  RII_GOBGP: 3,
  RII_EXABGP: 4,
  TSE_BIRD: 5,
  /** bench/bgp-ingest.mjs (it keeps its own copy of this rule). */
  BENCH: 9,
} as const;
export type InteropSlot = (typeof InteropSlot)[keyof typeof InteropSlot];

export interface AddressBlock {
  readonly slot: number;
  /** `host(n)` = 127.0.(10+slot).n, n in 1..254. */
  host(n: number): string;
  /** `port(n)` = 20000 + 100·slot + n, n in 0..99. */
  port(n: number): number;
}

export function addressBlock(slot: number): AddressBlock {
  if (!Number.isInteger(slot) || slot < 0 || slot > 200) throw new RangeError(`interop slot ${slot} outside 0..200`);
  return {
    slot,
    host(n: number): string {
      if (!Number.isInteger(n) || n < 1 || n > 254) throw new RangeError(`host number ${n} outside 1..254`);
      return `127.0.${10 + slot}.${n}`;
    },
    port(n: number): number {
      if (!Number.isInteger(n) || n < 0 || n > 99) throw new RangeError(`port number ${n} outside 0..99`);
      return 20000 + 100 * slot + n;
    },
  };
}
