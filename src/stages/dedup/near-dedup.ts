import { availableParallelism } from 'node:os';
import type { DedupOptions, LoadedPipeline } from '../../config/pipeline-config.js';
import { memoryPlan } from '../../core/memory-budget.js';
import { candidateProbability, chooseBands } from './lsh-params.js';
import { combine32 } from './hash32.js';
import { wordEditSimilarityAt } from './word-edit-similarity.js';
import { lshClusters, type ScoredPair } from './lsh-clusters.js';
import type { SketchOptions } from './document-sketch.js';
import type { Sketches } from './sketch-documents.js';
import { templatedDocuments, type TemplateFamily } from './template-filter.js';

export interface NearDedupStats {
  documents: number;
  eligible: number;
  templated: number;
  template_families: number;
  frequent_ngrams: number;
  bands: number;
  rows: number;
  candidate_pairs: number;
  merged_pairs: number;
  clusters: number;
  near_duplicates: number;
  workers: number;
  seconds_sketch: number;
  seconds_templates: number;
  seconds_cluster: number;
}

/**
 * bands x rows from the config, or chosen from the threshold. With verification on, a
 * false candidate costs one signature comparison while a missed pair is a kept duplicate,
 * so the choice weighs misses 4:1.
 */
export function lshShape(near: Pick<DedupOptions['near'], 'bands' | 'rows' | 'verify' | 'num_perm' | 'threshold'>): { bands: number; rows: number } {
  if (near.bands !== null && near.rows !== null) return { bands: near.bands, rows: near.rows };
  return near.verify ? chooseBands(near.num_perm, near.threshold, 0.2, 0.8) : chooseBands(near.num_perm, near.threshold);
}

/**
 * The lowest word-set Jaccard of two texts whose word edit similarity is s: k substitutions
 * in L words leave at worst (L - k) / (L + k) = s / (2 - s) (insertions and deletions leave
 * more). Near-dedup's LSH finds candidates at this Jaccard; the edit similarity decides.
 */
export function candidateJaccard(s: number): number {
  return s / (2 - s);
}

/**
 * The LSH shape of near-dedup, unless bands and rows are given: the candidate step must not
 * lose a pair the threshold would merge (verification is cheap; a missed pair is a kept
 * duplicate), so among the shapes within num_perm that make a pair at the candidate Jaccard
 * less 0.05 a candidate with probability >= 0.999, the one that makes fewest pairs at
 * Jaccard 0.5 candidates. 128 permutations at threshold 0.9: 25 bands x 5 rows.
 */
export function nearLshShape(near: Pick<DedupOptions['near'], 'bands' | 'rows' | 'num_perm' | 'threshold'>): { bands: number; rows: number } {
  if (near.bands !== null && near.rows !== null) return { bands: near.bands, rows: near.rows };
  const low = Math.max(0.05, candidateJaccard(near.threshold) - 0.05);
  let best = { bands: near.num_perm, rows: 1 };
  let bestP = Infinity;
  for (let rows = 1; rows <= near.num_perm; rows++) {
    const bands = Math.floor(near.num_perm / rows);
    if (candidateProbability(low, bands, rows) < 0.999) continue;
    const p = candidateProbability(0.5, bands, rows);
    if (p < bestP) {
      bestP = p;
      best = { bands, rows };
    }
  }
  return best;
}

/** Near misses are ranked exactly down to this far below the threshold. */
const NEAR_MISS_RANGE = 0.1;

export function resolveWorkers(w: number | null, maxWorkers = Infinity): number {
  return Math.min(w ?? Math.min(8, availableParallelism()), maxWorkers);
}

/** Sketch worker threads for a stage of this pipeline: dedup.near.workers, within the memory plan's cap. */
export function sketchWorkers(pipeline: LoadedPipeline): number {
  const { engine, stages } = pipeline.config;
  return resolveWorkers(stages.dedup.near.workers, memoryPlan(engine.memory_limit, engine.threads, pipeline.file).maxWorkers);
}

/** Per document (by position in the stream), what near-dedup decided. */
export interface NearDedupResult {
  stats: NearDedupStats;
  /** 1: the templated-prompt rule matched (dropped only with templates.action: drop). */
  templated: Uint8Array;
  /** Template family of a templated document (index into templateFamilies), else -1. */
  templateFamily: Int32Array;
  templateFamilies: TemplateFamily[];
  /** Position of the cluster's keeper: the first position of the cluster in stream order. */
  keeper: Int32Array;
  clusterSize: Int32Array;
  /** Word edit similarity to the keeper (1 for keepers and singletons). */
  similarity: Float32Array;
  nearMisses: ScoredPair[];
  weakestMerges: ScoredPair[];
}

export interface NearDedupInput {
  /** Sketches (dedupSketchOptions) in keeper-priority order: of a cluster, the first one survives. */
  sketches: Sketches;
  /** Seconds the sketches took, for the stats. */
  secondsSketch: number;
  /** Near misses and weakest merges to keep for inspection. */
  pairsToReport?: number;
}

/** What the dedup stage's sketch pass computes per conversation: exact key, word sequence, band keys, template n-grams. */
export function dedupSketchOptions(o: Pick<DedupOptions, 'near' | 'templates' | 'exact'>, seed: number): SketchOptions {
  const { bands, rows } = nearLshShape(o.near);
  return {
    // Candidates by word sets; the word sequences decide (see word-edit-similarity.ts).
    ngram: 1,
    wordBreaks: 'whitespace',
    numPerm: o.near.num_perm,
    keepWords: o.near.enabled,
    keepSignatures: false,
    userSides: { near: o.near.text, exact: o.exact.text },
    seed,
    method: o.near.method,
    templateNgram: o.templates.enabled ? o.templates.ngram : 0,
    templateMaxPerDoc: 512,
    bands: o.near.enabled ? bands : 0,
    rows,
  };
}

/**
 * The sketches of documents order[0], order[1], ... (band keys band-major again), for
 * near-dedup over a subset in priority order. Word and template runs point into the same
 * values (runs.ts); only the per-document arrays are gathered.
 */
export function gatherSketches(sk: Sketches, order: Int32Array, bands: number): Sketches {
  const m = order.length;
  const n = sk.n;
  const words = new Uint32Array(m);
  const bandKeys = new Uint32Array(bands * m);
  for (let b = 0; b < bands; b++) {
    const from = sk.bandKeys.subarray(b * n, (b + 1) * n);
    const to = bandKeys.subarray(b * m, (b + 1) * m);
    for (let p = 0; p < m; p++) to[p] = from[order[p]!]!;
  }
  for (let p = 0; p < m; p++) words[p] = sk.words[order[p]!]!;
  return { n: m, signatures: new Uint32Array(0), words, templates: sk.templates.gather(order), wordSeq: sk.wordSeq.gather(order), bandKeys, exactKeys: new Uint32Array(0) };
}

/**
 * Near-duplicate clusters and templated prompts over a stream of texts. Pure computation
 * on typed arrays: the caller reads the texts and writes the decisions.
 */
export function findNearDuplicates(o: Pick<DedupOptions, 'near' | 'templates'>, input: NearDedupInput): NearDedupResult {
  const near = o.near;
  const sk = input.sketches;
  const n = sk.n;
  const { bands, rows } = nearLshShape(near);
  const workers = resolveWorkers(near.workers);
  const t1 = performance.now();
  const tpl = o.templates.enabled
    ? templatedDocuments(sk.templates, { ngram: o.templates.ngram, maxOthers: o.templates.max_others, minCoverage: o.templates.min_coverage })
    : { templated: new Uint8Array(n), family: new Int32Array(n).fill(-1), families: [], frequentNgrams: 0 };
  const tTemplates = performance.now();
  const dropTemplated = o.templates.action === 'drop';
  const eligible = new Uint8Array(n);
  let eligibleCount = 0;
  let templatedCount = 0;
  for (let i = 0; i < n; i++) {
    if (tpl.templated[i]) templatedCount++;
    if (near.enabled && !(dropTemplated && tpl.templated[i]) && sk.words[i]! >= near.min_words && sk.words[i]! > 0) {
      eligible[i] = 1;
      eligibleCount++;
    }
  }
  // A text so short that one edit against any text takes it below the threshold can only
  // match its own normalized copy: it is found by a hash of its words, not by LSH, whose
  // buckets of short prompts of common words cost most of the candidate checks.
  const shortTexts = { keys: new Uint32Array(n), members: new Uint8Array(n) };
  if (near.verify) {
    for (let i = 0; i < n; i++) {
      const len = sk.words[i]!;
      if (!eligible[i] || (len + 1) * (1 - near.threshold) >= 1 - 1e-9) continue;
      let h = combine32(0x3c6ef372, len);
      const w = sk.wordSeq.values(i);
      const a = sk.wordSeq.start[i]!;
      for (let k = a; k < a + sk.wordSeq.len[i]!; k++) h = combine32(h, w[k]!);
      shortTexts.keys[i] = h;
      shortTexts.members[i] = 1;
      eligible[i] = 2;
    }
  }
  const lsh = lshClusters(sk.signatures, n, {
    numPerm: near.num_perm,
    bands,
    rows,
    threshold: near.threshold,
    verify: near.verify,
    linkage: near.linkage,
    similarity: (i, j, floor) => {
      const w = sk.wordSeq;
      return wordEditSimilarityAt(w.values(i), w.start[i]!, w.len[i]!, w.values(j), w.start[j]!, w.len[j]!, Math.max(floor, near.threshold - NEAR_MISS_RANGE));
    },
    exactBuckets: near.verify ? shortTexts : undefined,
    eligible,
    bandKeys: near.enabled ? sk.bandKeys : undefined,
    pairsToReport: input.pairsToReport ?? 0,
  });
  const t2 = performance.now();
  let clusters = 0;
  let dups = 0;
  for (let i = 0; i < n; i++) {
    if (lsh.root[i] !== i) dups++;
    else if (lsh.size[i]! > 1) clusters++;
  }
  return {
    stats: {
      documents: n,
      eligible: eligibleCount,
      templated: templatedCount,
      template_families: tpl.families.length,
      frequent_ngrams: tpl.frequentNgrams,
      bands,
      rows,
      candidate_pairs: lsh.candidatePairs,
      merged_pairs: lsh.mergedPairs,
      clusters,
      near_duplicates: dups,
      workers,
      seconds_sketch: Math.round(input.secondsSketch * 1000) / 1000,
      seconds_templates: Math.round(tTemplates - t1) / 1000,
      seconds_cluster: Math.round(t2 - tTemplates) / 1000,
    },
    templated: tpl.templated,
    templateFamily: tpl.family,
    templateFamilies: tpl.families,
    keeper: lsh.root,
    clusterSize: lsh.size,
    similarity: lsh.similarity,
    nearMisses: lsh.nearMisses,
    weakestMerges: lsh.weakestMerges,
  };
}
