/** The traffic shadowing engine's public face. */
export * from './types.js';
export * from './engine.js';
export * from './flow-cache.js';
export { Classifier, VnetClassifier } from './classifier.js';
export { RouteFactTable, StaticPrefixTable } from './fact-table.js';
export { IpSetRegistry } from './ipset.js';
export * from './sources/index.js';
export * from './targets/index.js';
export { FlowFeed } from './flow-feed.js';
