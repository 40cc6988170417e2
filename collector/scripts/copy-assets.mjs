// The build's second half: files the compiled code reads at run time (the trace page) beside it.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/exporters/embedded/ui/', import.meta.url), new URL('../dist/exporters/embedded/ui/', import.meta.url), { recursive: true });
