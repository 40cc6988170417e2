/**
 * How far V8 lets the heap grow before it collects. After a full collection V8 sets the next limit
 * at up to four times what is live (on a machine with memory to spare); the join holds seconds of
 * spans and remembers released traces for a minute, so at 10k spans/s the live heap is ~90 MiB and
 * the process grew to ~440 MiB before the next collection. span-relay asks for twice what is live,
 * as Go's default GOGC=100 does for the OpenTelemetry Collector. Measured (bench testbed, OTLP gRPC,
 * join on, 60 s): peak RSS 440 -> 289 MiB, CPU 24.9 -> 23.9 % of one core (within the run-to-run
 * noise). `--heap-growing-percent` given to node (NODE_OPTIONS or its command line) wins.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;

/** Whether node was started with its own --heap-growing-percent. */
export function heapGrowthGiven(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
}

export function applyHeapPolicy(): void {
  if (!heapGrowthGiven(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
