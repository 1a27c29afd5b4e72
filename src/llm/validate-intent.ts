export interface IntentBounds {
  prefix: string;
  minChars: number;
  maxChars: number;
}

export type IntentCheck = { ok: true; intent: string } | { ok: false; problem: string };

/**
 * An intent as the dataset stores it, or why the answer is not one. Whitespace is collapsed
 * and one pair of wrapping quotes removed, since models add those without changing meaning;
 * anything else that breaks the format is a problem, not something to patch.
 */
export function validateIntent(answer: string | null | undefined, b: IntentBounds): IntentCheck {
  if (answer === null || answer === undefined) return { ok: false, problem: 'empty answer' };
  let s = answer.replace(/\s+/g, ' ').trim();
  const q = /^(["'\u201c])(.*)(["'\u201d])$/.exec(s);
  if (q && !q[2]!.includes(q[1]!)) s = q[2]!.trim();
  if (s.length === 0) return { ok: false, problem: 'empty answer' };
  if (!s.startsWith(b.prefix)) return { ok: false, problem: 'does not start with the required prefix' };
  if (s.length < b.minChars) return { ok: false, problem: `shorter than ${b.minChars} characters` };
  if (s.length > b.maxChars) return { ok: false, problem: `longer than ${b.maxChars} characters` };
  return { ok: true, intent: s };
}
