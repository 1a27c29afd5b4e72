import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { lshClusters } from '../../src/stages/dedup/lsh-clusters.js';
import { estimateJaccard } from '../../src/stages/dedup/minhash-signature.js';
import { UnionFind } from '../../src/stages/dedup/union-find.js';
import { propertyOptions } from '../helpers.js';

/** Connected components of an undirected graph on 0..n-1, each labelled by its smallest member. */
function components(n: number, edges: [number, number][]): number[] {
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    adj[a]!.push(b);
    adj[b]!.push(a);
  }
  const label = new Array<number>(n).fill(-1);
  for (let s = 0; s < n; s++) {
    if (label[s] !== -1) continue;
    const stack = [s];
    label[s] = s;
    while (stack.length) {
      for (const y of adj[stack.pop()!]!) {
        if (label[y] !== -1) continue;
        label[y] = s;
        stack.push(y);
      }
    }
  }
  return label;
}

describe('dedup clustering, property-based', () => {
  it('union-find: clusters are the transitive closure of the merged pairs, rooted at their smallest index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 80 }))),
        ([n, pairs]) => {
          const uf = new UnionFind(n);
          for (const [a, b] of pairs) uf.union(a, b);
          assert.deepEqual(Array.from({ length: n }, (_, i) => uf.find(i)), components(n, pairs));
        },
      ),
      propertyOptions(300),
    );
  });

  it('LSH clusters: identical signatures always merge, roots are cluster minima, and only similar documents are joined', () => {
    const numPerm = 16;
    const bands = 4;
    const rows = 4;
    const threshold = 0.5;
    fc.assert(
      fc.property(
        // Distinct documents over a tiny alphabet (so that near-duplicates happen), then copies.
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: numPerm, maxLength: numPerm }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 15 }),
        (docs, copies) => {
          const all = [...docs, ...copies.map((c) => docs[c % docs.length]!)];
          const n = all.length;
          const sig = new Uint32Array(all.flat());
          const r = lshClusters(sig, n, { numPerm, bands, rows, threshold, verify: true });
          for (let i = 0; i < n; i++) {
            const root = r.root[i]!;
            assert.ok(root <= i && r.root[root] === root, `root of ${i} is its cluster's smallest member`);
            for (let j = 0; j < i; j++) {
              if (all[i]!.join() === all[j]!.join()) assert.equal(r.root[i], r.root[j], `identical ${j} and ${i} merged`);
            }
          }
          const members = new Map<number, number[]>();
          for (let i = 0; i < n; i++) members.set(r.root[i]!, [...(members.get(r.root[i]!) ?? []), i]);
          for (const [root, m] of members) assert.equal(r.size[root], m.length);
          // Every cluster lies within a component of the "similar enough" graph: nothing joins
          // without a chain of verified pairs.
          const similar: [number, number][] = [];
          for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) if (estimateJaccard(sig, i, j, numPerm) >= threshold) similar.push([i, j]);
          const comp = components(n, similar);
          for (let i = 0; i < n; i++) assert.equal(comp[i], comp[r.root[i]!], `${i} is joined to ${r.root[i]} only through similar pairs`);
          // Keeper linkage (the default): every dropped document is itself similar to its keeper.
          for (let i = 0; i < n; i++) if (r.root[i] !== i) assert.ok(estimateJaccard(sig, i, r.root[i]!, numPerm) >= threshold, `${i} similar to its keeper`);
        },
      ),
      propertyOptions(300),
    );
  });
});
