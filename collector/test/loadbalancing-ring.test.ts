import { describe, expect, it } from 'vitest';
import { HashRing } from '../src/exporters/loadbalancing/ring.js';
import { traceKey } from '../src/trace/key.js';

const keys = Array.from({ length: 20_000 }, (_, i) => (0x9e3779b97f4a7c15n * BigInt(i + 1)).toString(16).slice(-16).padStart(16, '0'));

describe('the loadbalancing ring', () => {
  it('spreads traces evenly over backends', () => {
    const ring = new HashRing(['a:4317', 'b:4317', 'c:4317']);
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(ring.get(k)!, (counts.get(ring.get(k)!) ?? 0) + 1);
    for (const n of counts.values()) expect(n / keys.length).toBeGreaterThan(0.25);
  });

  it('adding a fourth backend moves about a quarter of the traces, all of them to the new one; removing one moves only its own', () => {
    const three = new HashRing(['a:4317', 'b:4317', 'c:4317']);
    const four = new HashRing(['a:4317', 'b:4317', 'c:4317', 'd:4317']);
    const moved = keys.filter((k) => three.get(k) !== four.get(k));
    expect(moved.length / keys.length).toBeGreaterThan(0.15);
    expect(moved.length / keys.length).toBeLessThan(0.35);
    expect(new Set(moved.map((k) => four.get(k)))).toEqual(new Set(['d:4317']));
    const two = new HashRing(['a:4317', 'c:4317']);
    expect(keys.filter((k) => three.get(k) !== two.get(k)).every((k) => three.get(k) === 'b:4317')).toBe(true);
  });

  it('routes on the low 64 bits: a 64-bit ID, its left-padded form and a 128-bit ID ending in it go to one backend', () => {
    const ring = new HashRing(['a:4317', 'b:4317', 'c:4317']);
    for (const k of keys.slice(0, 500)) {
      const owner = ring.get(traceKey(k));
      expect(ring.get(traceKey(k.padStart(32, '0')))).toBe(owner);
      expect(ring.get(traceKey(`a1b2c3d4e5f60718${k}`))).toBe(owner);
    }
  });
});
