/**
 * How far V8 lets the heap grow before it collects. After a full collection V8 sets the next limit
 * at up to four times what is live (on a machine with memory to spare); the join holds seconds of
 * spans and remembers released traces for a minute, so at 10k spans/s the live heap is ~90 MiB and
 * the process grew to ~440 MiB before the next collection. span-relay asks for twice what is live,
 * as Go's default GOGC=100 does for the OpenTelemetry Collector. Measured (bench testbed, OTLP gRPC,
 * join on, 60 s): peak RSS 440 -> 289 MiB, CPU 24.9 -> 23.9 % of one core (within the run-to-run
 * noise).
 *
 * SPAN_RELAY_HEAP_GROWING_PERCENT chooses another growth, as GOGC does for a Go collector: 50 trades
 * a few points of CPU for less memory (README, "The OpenTelemetry Collector's load test, in its
 * shape"). node does not accept the V8 flag in NODE_OPTIONS; given on node's own command line, the
 * flag wins over both.
 */
import { setFlagsFromString } from 'node:v8';
import { UsageError } from './model/errors.js';

export const HEAP_GROWING_PERCENT = 100;
export const HEAP_GROWING_ENV = 'SPAN_RELAY_HEAP_GROWING_PERCENT';

/** The growth to ask V8 for, or undefined when node was started with its own --heap-growing-percent. */
export function heapGrowingPercent(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): number | undefined {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return undefined;
  const value = env[HEAP_GROWING_ENV];
  if (value === undefined || value === '') return HEAP_GROWING_PERCENT;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 10 || n > 1000) throw new UsageError(`${HEAP_GROWING_ENV}=${value}: expected a whole number from 10 to 1000 (the heap grows to 1 + N/100 times what is live; default ${HEAP_GROWING_PERCENT})`);
  return n;
}

export function applyHeapPolicy(): void {
  const percent = heapGrowingPercent(process.execArgv, process.env);
  if (percent !== undefined) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
