/** Interop harness: real BGP daemons on loopback for tests. */
export * from './proc.js';
export * from './addresses.js';
export * from './bird.js';
export * from './gobgp.js';
export * from './exabgp.js';
export * from './raw-bgp.js';
export * from './lab.js';
