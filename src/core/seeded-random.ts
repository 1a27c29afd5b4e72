// Mulberry32: a small, fast, seeded 32-bit generator. Everything random in userlm-data (hash
// families, benchmark corpora, the bundled sample) draws from it, so runs repeat exactly.

/** A generator of uint32 values. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A generator of floats in [0, 1). */
export function uniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/**
 * xoshiro128** (Blackman and Vigna), its 128-bit state filled from seed by splitmix32: a
 * period of 2^128 - 1 where mulberry32's is 2^32 draws. For generators that draw billions of
 * values: the realistic bench corpus draws about 2,500 per conversation, so on mulberry32 its
 * stream wrapped after ~1.7M conversations and a 3M corpus repeated its first 1.28M texts.
 */
export function xoshiro128ss(seed: number): () => number {
  let z = seed >>> 0;
  const split = () => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
    t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  return xoshiro128ssFromState(split(), split(), split(), split());
}

/** xoshiro128** from an explicit state (not all zero): the reference generator, for tests. */
export function xoshiro128ssFromState(a: number, b: number, c: number, d: number): () => number {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let s3 = d >>> 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  return () => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
}

/** Floats in [0, 1) from xoshiro128ss. */
export function uniformLong(seed: number): () => number {
  const next = xoshiro128ss(seed);
  return () => next() / 4294967296;
}
