import { z } from 'zod';
import { processorFactory, type Consumer, type Processor } from '../../component.js';
import type { AttributeValue, Attributes, Span, SpanBatch } from '../../model/span.js';
import { copyAttributes } from '../../model/span.js';
import { section } from '../../config/schema-helpers.js';
import { withChanges } from '../../model/lazy-span.js';

const action = z
  .strictObject({
    key: z.string().min(1),
    action: z.enum(['insert', 'update', 'upsert', 'delete']),
    value: z.union([z.string(), z.number(), z.boolean()]).optional(),
    from_attribute: z.string().optional(),
  })
  .refine((a) => a.action === 'delete' || a.value !== undefined || a.from_attribute !== undefined, {
    message: 'insert, update and upsert need a value or from_attribute',
  });

export const resourceConfig = section(z.strictObject({ attributes: z.array(action).min(1) }));
type Action = z.output<typeof action>;

/** Applies attribute actions to each span's resource, as the OpenTelemetry Collector's resource processor. */
export function applyActions(actions: Action[], attrs: Attributes): Attributes {
  const out: Attributes = {};
  copyAttributes(out, attrs);
  for (const a of actions) {
    const has = Object.hasOwn(out, a.key);
    let value: AttributeValue | undefined = a.value;
    if (a.from_attribute !== undefined) value = out[a.from_attribute];
    switch (a.action) {
      case 'delete':
        delete out[a.key];
        break;
      case 'insert':
        if (!has && value !== undefined) out[a.key] = value;
        break;
      case 'update':
        if (has && value !== undefined) out[a.key] = value;
        break;
      case 'upsert':
        if (value !== undefined) out[a.key] = value;
        break;
    }
  }
  return out;
}

export class ResourceProcessor implements Processor {
  private next: Consumer | undefined;
  // Many spans share one resource object; transform each distinct resource once per batch.
  constructor(private readonly actions: Action[]) {}

  async start(next: Consumer): Promise<void> {
    this.next = next;
  }

  async consume(batch: SpanBatch): Promise<void> {
    const done = new Map<Attributes, Attributes>();
    const spans = batch.spans.map((s): Span => {
      let attrs = done.get(s.resource.attributes);
      if (!attrs) done.set(s.resource.attributes, (attrs = applyActions(this.actions, s.resource.attributes)));
      // The resource's other fields (dropped count, schema URL) stay as they were.
      return withChanges(s, { resource: { ...s.resource, attributes: attrs } });
    });
    await this.next!.consume({ spans });
  }

  async shutdown(): Promise<void> {}
}

export const resourceProcessorFactory = processorFactory({
  type: 'resource',
  config: resourceConfig,
  create: (config) => new ResourceProcessor(config.attributes),
});
