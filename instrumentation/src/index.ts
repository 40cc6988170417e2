export { startKit, type Kit } from './sdk.js';
export { readConfig, type KitConfig } from './config.js';
export { buildPropagator } from './propagation.js';
export { detectResource, workloadFromPodName } from './resource.js';
export { OpenCensusAgentExporter } from './exporters/opencensus.js';
