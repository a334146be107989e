export * from './errors.js';
export * from './clock.js';
export * from './bus.js';
export * from './log.js';
export * from './prefix.js';
export * from './types.js';
export * from './packet.js';
export * from './typed.js';
