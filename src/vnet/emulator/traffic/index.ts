/** Workloads: flows of real packet bytes, load rhythms and the resource model. */
export * from './rng.js';
export * from './flows.js';
export * from './rhythm.js';
export * from './resources.js';
export { flowShape, type FlowShape } from './content.js';
