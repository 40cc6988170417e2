/**
 * Files span-relay reads at run time, located from this module. It sits at the top of src/ (and of
 * dist/, where the single-file bundle sits too), so one URL works from the sources, the per-module
 * build and the bundle alike; a module deeper down would resolve differently once bundled.
 */
import { fileURLToPath } from 'node:url';

/** The wire schemas (.proto), beside src/ and dist/. */
export const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));

/** The embedded store's trace page (copied beside the compiled code by the build). */
export const TRACE_PAGE_DIR = new URL('./exporters/embedded/ui/', import.meta.url);
