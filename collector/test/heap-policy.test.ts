import { describe, expect, it } from 'vitest';
import { heapGrowthGiven } from '../src/heap-policy.js';

describe('heap policy', () => {
  it('leaves V8 alone when node was given its own --heap-growing-percent, on its command line or in NODE_OPTIONS', () => {
    expect(heapGrowthGiven([], undefined)).toBe(false);
    expect(heapGrowthGiven(['--enable-source-maps'], '--max-old-space-size=512')).toBe(false);
    expect(heapGrowthGiven(['--heap-growing-percent=30'], undefined)).toBe(true);
    expect(heapGrowthGiven([], '--enable-source-maps --heap_growing_percent=50')).toBe(true);
    expect(heapGrowthGiven([], '--heap-growing-percentage=5')).toBe(false);
  });
});
