import { z } from 'zod';
import { processorFactory, type Consumer, type Processor } from '../../component.js';
import type { SpanBatch } from '../../model/span.js';

// Accepts the OpenTelemetry Collector's keys as they are; none of them can act outside a cluster.
export const k8sattributesConfig = z.preprocess((v) => v ?? {}, z.record(z.string(), z.unknown()));

/**
 * Loads so that configs written for a cluster run unchanged, and says once that it passes spans
 * through untouched: span-relay does not query the Kubernetes API.
 */
export class K8sAttributesProcessor implements Processor {
  private next: Consumer | undefined;
  constructor(private readonly warn: () => void) {}

  async start(next: Consumer): Promise<void> {
    this.next = next;
    this.warn();
  }

  consume(batch: SpanBatch): Promise<void> {
    return this.next!.consume(batch);
  }

  async shutdown(): Promise<void> {}
}

export const k8sattributesProcessorFactory = processorFactory({
  type: 'k8sattributes',
  config: k8sattributesConfig,
  create: (_config, ctx) =>
    new K8sAttributesProcessor(() =>
      ctx.telemetry.logger.warn({ processor: ctx.id }, 'k8sattributes is inactive: span-relay does not query the Kubernetes API, spans pass through unchanged'),
    ),
});
