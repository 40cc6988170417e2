import type { ComponentKind, ExporterFactory, ExtensionFactory, ProcessorFactory, ReceiverFactory } from './component.js';
import { opencensusReceiverFactory } from './receivers/opencensus/index.js';
import { otlpReceiverFactory } from './receivers/otlp/index.js';
import { zipkinReceiverFactory } from './receivers/zipkin/index.js';
import { jaegerReceiverFactory } from './receivers/jaeger/index.js';
import { kafkaReceiverFactory } from './receivers/kafka/index.js';
import { batchProcessorFactory } from './processors/batch/index.js';
import { joinProcessorFactory } from './processors/join/index.js';
import { k8sattributesProcessorFactory } from './processors/k8sattributes/index.js';
import { resourceProcessorFactory } from './processors/resource/index.js';
import { memoryLimiterProcessorFactory } from './processors/memory_limiter/index.js';
import { fileExporterFactory } from './exporters/file/index.js';
import { jaegerExporterFactory, jaegerThriftExporterFactory } from './exporters/jaeger/index.js';
import { otlpExporterFactory, otlpHttpExporterFactory } from './exporters/otlp/index.js';
import { embeddedExporterFactory } from './exporters/embedded/index.js';
import { loadbalancingExporterFactory } from './exporters/loadbalancing/index.js';
import { kafkaExporterFactory } from './exporters/kafka/index.js';
import { healthCheckExtensionFactory } from './extensions/health_check/index.js';
import { fileStorageExtensionFactory } from './extensions/file_storage/index.js';
import { bearerTokenAuthExtensionFactory } from './extensions/bearertokenauth/index.js';

/** Every component span-relay has, by kind: the one list to extend when adding a component. */
export interface Components {
  receiver: ReceiverFactory[];
  processor: ProcessorFactory[];
  exporter: ExporterFactory[];
  extension: ExtensionFactory[];
}

export const builtinComponents: Components = {
  receiver: [zipkinReceiverFactory, opencensusReceiverFactory, otlpReceiverFactory, jaegerReceiverFactory, kafkaReceiverFactory],
  processor: [memoryLimiterProcessorFactory, joinProcessorFactory, batchProcessorFactory, resourceProcessorFactory, k8sattributesProcessorFactory],
  exporter: [otlpExporterFactory, otlpHttpExporterFactory, jaegerExporterFactory, jaegerThriftExporterFactory, fileExporterFactory, embeddedExporterFactory, loadbalancingExporterFactory, kafkaExporterFactory],
  extension: [healthCheckExtensionFactory, fileStorageExtensionFactory, bearerTokenAuthExtensionFactory],
};

export function typesOf(components: Components, kind: ComponentKind): string[] {
  return components[kind].map((f) => f.type);
}
