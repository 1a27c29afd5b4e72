// 32-bit hashing on Math.imul: measured ~9k docs/s/core for 128-permutation MinHash, where
// prime-modulus and BigInt variants ran 6-30x slower (ARCHITECTURE.md).

/** murmur3's finalizer: a bijective avalanche of a 32-bit value. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Combine a running hash with one more 32-bit value (order matters). */
export function combine32(h: number, v: number): number {
  h ^= mix32(v + 0x9e3779b9 + ((h << 6) >>> 0) + (h >>> 2));
  return h >>> 0;
}
