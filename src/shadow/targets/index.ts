/** Copy targets: VXLAN to a mirror target, capture files, a bus topic. */
export * from './ethernet-framing.js';
export * from './vxlan.js';
export * from './pcap.js';
export * from './bus.js';
