import { radixSortValues } from './radix-sort.js';

/**
 * The templated-prompt rule: a document is templated when one of its word n-grams occurs
 * in more than maxOthers other documents. Hashes are distinct per document, so after a
 * sort the run length of a hash is the number of documents holding it.
 */
export function templatedDocuments(
  templates: Uint32Array,
  offsets: Uint32Array,
  n: number,
  maxOthers: number,
): { templated: Uint8Array; frequentNgrams: number } {
  const sorted = radixSortValues(templates);
  const frequent: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i - 1 > maxOthers) frequent.push(sorted[i]!);
    i = j;
  }
  const freq = Uint32Array.from(frequent);
  const templated = new Uint8Array(n);
  if (freq.length === 0) return { templated, frequentNgrams: 0 };
  for (let d = 0; d < n; d++) {
    for (let k = offsets[d]!; k < offsets[d + 1]!; k++) {
      if (binarySearch(freq, templates[k]!)) {
        templated[d] = 1;
        break;
      }
    }
  }
  return { templated, frequentNgrams: freq.length };
}

function binarySearch(a: Uint32Array, v: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = a[mid]!;
    if (x === v) return true;
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
