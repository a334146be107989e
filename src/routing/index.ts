/** The RII's public face. */
export * from './interceptor.js';
export * from './view.js';
export { AttributeStore, VnetRib, type LocRibEntry, type RibPeer } from './rib/index.js';
export { BgpSpeaker, type BgpPeer, type PeerSettings } from './session/index.js';
