import type { z } from 'zod';
import type { SpanBatch } from './model/span.js';
import type { Telemetry } from './telemetry/telemetry.js';
import type { LogProblem, LogRecord, SegmentLog } from './storage/segment-log.js';

/** Takes a batch. Resolves when accepted; rejects with BackpressureError when it cannot take more. */
export interface Consumer {
  consume(batch: SpanBatch): Promise<void>;
}

export interface Receiver {
  start(next: Consumer): Promise<void>;
  /** Stops accepting; requests in flight get until `deadline` (epoch ms), then connections are cut. */
  shutdown(deadline?: number): Promise<void>;
  /**
   * After the processors flushed and the exporters drained: a receiver that acknowledges upstream
   * only once its spans are safe downstream (kafka's offset commit) makes its last acknowledgement.
   */
  drained?(deadline: number): Promise<void>;
}

export interface Processor extends Consumer {
  start(next: Consumer): Promise<void>;
  /** Flushes what it holds to `next` (trying until `deadline`, epoch ms), then stops. */
  shutdown(deadline?: number): Promise<void>;
}

export interface Exporter extends Consumer {
  start(): Promise<void>;
  /** Sends everything queued (until `deadline`, epoch ms), then stops; what is left is counted lost. */
  shutdown(deadline?: number): Promise<void>;
}

export interface Extension {
  start(host: Host): Promise<void>;
  shutdown(): Promise<void>;
}

/** What components may see of the running collector. */
export interface Host {
  telemetry: Telemetry;
  /** True once every pipeline has started, false again when shutdown begins. */
  ready(): boolean;
}

export interface CreateContext {
  /** The component's full name as in the config, e.g. `otlp/jaeger`. */
  id: string;
  telemetry: Telemetry;
  /** A storage extension by its id (`file_storage`), when the config names one. */
  storage?: (id: string) => StorageProvider | undefined;
  /**
   * How many exporters settle each span this component passes on: for a processor, its pipeline's;
   * for a receiver, those of every pipeline it feeds.
   */
  exporters?: number;
  /** An authenticator extension by its id (`bearertokenauth`). */
  authenticator?: (id: string) => Authenticator | undefined;
}

/** What an auth extension gives a receiver: is this Authorization header (or metadata) good? */
export interface Authenticator {
  authenticate(authorization: string | undefined): boolean;
}

/** What a storage extension gives a component: its own log, with what it still held. */
export interface StorageProvider {
  openLog(owner: string): Promise<{ log: SegmentLog; records: LogRecord[]; problems: LogProblem[] }>;
}

export type ComponentKind = 'receiver' | 'processor' | 'exporter' | 'extension';

interface FactoryBase<Schema extends z.ZodType> {
  type: string;
  /** Validates the component's config; a key with no value (null) means all defaults. */
  config: Schema;
}

export interface ReceiverFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  create(config: z.output<S>, ctx: CreateContext): Receiver;
}
export interface ProcessorFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  create(config: z.output<S>, ctx: CreateContext): Processor;
}
export interface ExporterFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  create(config: z.output<S>, ctx: CreateContext): Exporter;
}
export interface ExtensionFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  create(config: z.output<S>, ctx: CreateContext): Extension;
}

/** Helps factories keep their config type while being stored in one registry. */
export function receiverFactory<S extends z.ZodType>(f: ReceiverFactory<S>): ReceiverFactory {
  return f as unknown as ReceiverFactory;
}
export function processorFactory<S extends z.ZodType>(f: ProcessorFactory<S>): ProcessorFactory {
  return f as unknown as ProcessorFactory;
}
export function exporterFactory<S extends z.ZodType>(f: ExporterFactory<S>): ExporterFactory {
  return f as unknown as ExporterFactory;
}
export function extensionFactory<S extends z.ZodType>(f: ExtensionFactory<S>): ExtensionFactory {
  return f as unknown as ExtensionFactory;
}
