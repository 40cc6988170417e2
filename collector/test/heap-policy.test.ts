import { describe, expect, it } from 'vitest';
import { heapGrowingPercent } from '../src/heap-policy.js';

describe('heap policy', () => {
  it('asks for twice what is live, or what SPAN_RELAY_HEAP_GROWING_PERCENT says; node given its own flag is left alone', () => {
    expect(heapGrowingPercent([], {})).toBe(100);
    expect(heapGrowingPercent(['--enable-source-maps'], { NODE_OPTIONS: '--max-old-space-size=512' })).toBe(100);
    expect(heapGrowingPercent([], { SPAN_RELAY_HEAP_GROWING_PERCENT: '50' })).toBe(50);
    expect(heapGrowingPercent(['--heap-growing-percent=30'], { SPAN_RELAY_HEAP_GROWING_PERCENT: '50' })).toBeUndefined();
    expect(heapGrowingPercent(['--heap_growing_percent=30'], {})).toBeUndefined();
    expect(heapGrowingPercent(['--heap-growing-percentage=5'], {})).toBe(100);
    for (const bad of ['abc', '5', '2000', '50%', '-50']) {
      expect(() => heapGrowingPercent([], { SPAN_RELAY_HEAP_GROWING_PERCENT: bad })).toThrow(`SPAN_RELAY_HEAP_GROWING_PERCENT=${bad}: expected a whole number from 10 to 1000`);
    }
  });
});
