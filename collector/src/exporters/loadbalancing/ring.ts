/**
 * A consistent-hash ring: each backend at `vnodes` points of a 32-bit circle; a key goes to the
 * first point at or after its hash. Adding or removing one of N backends moves about 1/N of the keys.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits, then a final mix so close strings spread over the circle. */
export function hash32(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRing {
  private readonly points: number[] = [];
  private readonly owners: string[] = [];

  constructor(
    readonly backends: readonly string[],
    vnodes = 150,
  ) {
    const all: [number, string][] = [];
    for (const b of backends) for (let i = 0; i < vnodes; i++) all.push([hash32(`${b}#${i}`), b]);
    all.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    for (const [p, b] of all) {
      this.points.push(p);
      this.owners.push(b);
    }
  }

  /** The backend for a key; undefined when the ring is empty. */
  get(key: string): string | undefined {
    if (this.points.length === 0) return undefined;
    const h = hash32(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.points.length ? 0 : lo];
  }
}
