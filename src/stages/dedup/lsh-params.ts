/** Probability that a pair with Jaccard s shares at least one band of r rows out of b. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(s, rows), bands);
}

function integrate(f: (x: number) => number, a: number, b: number, steps = 200): number {
  const h = (b - a) / steps;
  let sum = 0;
  for (let i = 0; i < steps; i++) sum += f(a + (i + 0.5) * h) * h;
  return sum;
}

/**
 * bands x rows (bands * rows <= numPerm) that minimise the area of false positives below the
 * threshold plus false negatives above it, as datasketch and text-dedup choose them.
 */
export function chooseBands(numPerm: number, threshold: number, fpWeight = 0.5, fnWeight = 0.5): { bands: number; rows: number } {
  let best = { bands: 1, rows: numPerm };
  let bestErr = Infinity;
  for (let bands = 1; bands <= numPerm; bands++) {
    const maxRows = Math.floor(numPerm / bands);
    for (let rows = 1; rows <= maxRows; rows++) {
      const fp = integrate((s) => candidateProbability(s, bands, rows), 0, threshold);
      const fn = integrate((s) => 1 - candidateProbability(s, bands, rows), threshold, 1);
      const err = fpWeight * fp + fnWeight * fn;
      if (err < bestErr - 1e-12) {
        bestErr = err;
        best = { bands, rows };
      }
    }
  }
  return best;
}
