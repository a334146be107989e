export * from './server.js';
export * from './errors.js';
