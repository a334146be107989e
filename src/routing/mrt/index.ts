/** MRT ingest and export: streaming reader, bgpdump-compatible output, replay routes, writer. */
export * from './reader.js';
export * from './bgpdump.js';
export * from './routes.js';
export * from './writer.js';
