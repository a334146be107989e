/** BGP session layer: the RFC 4271 FSM, peers and the speaker of one virtual router. */
export * from './errors.js';
export * from './fsm.js';
export * from './peer.js';
export * from './speaker.js';
