/**
 * IP address text in one spelling, so the same endpoint reads the same whatever wire format it
 * came in: IPv6 in RFC 5952's canonical form (lowercase, no leading zeros, the longest run of two
 * or more zero groups as `::`, an IPv4-mapped address with its dotted tail).
 */

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when the text is not one. */
export function parseIPv6(text: string): number[] | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIPv4(item);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const double = s.indexOf('::');
  if (double >= 0) {
    if (s.indexOf('::', double + 1) >= 0) return undefined;
    const head = groupsOf(s.slice(0, double));
    const tail = groupsOf(s.slice(double + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const all = groupsOf(s);
  return all && all.length === 8 ? all : undefined;
}

export function formatIPv6(groups: readonly number[]): string {
  // IPv4-mapped (::ffff:a.b.c.d): RFC 5952 section 5 keeps the dotted tail.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** RFC 5952 text of an IPv6 address; text that is not an IPv6 address is returned unchanged. */
export function canonicalIPv6(text: string): string {
  const groups = parseIPv6(text);
  return groups ? formatIPv6(groups) : text;
}

/** RFC 5952 text of 16 address bytes. */
export function ipv6FromBytes(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  return formatIPv6(groups);
}
