/** Packet sources: capture files, live interfaces through tcpdump, a VXLAN/GENEVE mirror receiver, and code. */
export * from './errors.js';
export * from './capture-stream.js';
export * from './pcap-file.js';
export * from './tcpdump.js';
export * from './vxlan-receiver.js';
export * from './programmatic.js';
