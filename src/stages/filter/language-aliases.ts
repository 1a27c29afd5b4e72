import { iso6393 } from 'iso-639-3';

type Entry = (typeof iso6393)[number];

let index: Map<string, Entry> | null = null;

/** Lower-cased name, ISO 639-1, 639-2/B, 639-2/T and 639-3 code -> the ISO 639-3 entry. */
function languageIndex(): Map<string, Entry> {
  if (index) return index;
  const out = new Map<string, Entry>();
  // Codes first, then names, so that a name never shadows a code ("Ga" the language vs "ga" Irish).
  for (const e of iso6393) for (const c of [e.iso6391, e.iso6392B, e.iso6392T, e.iso6393]) if (c && !out.has(c)) out.set(c, e);
  for (const e of iso6393) {
    const k = e.name.toLowerCase();
    if (!out.has(k)) out.set(k, e);
  }
  index = out;
  return out;
}

/** The ISO 639-3 entry a label names (a name or a code, any case), or null when the table has none. */
export function lookupLanguage(label: string): { name: string; iso6393: string; iso6391: string | null } | null {
  const e = languageIndex().get(label.trim().toLowerCase());
  return e ? { name: e.name, iso6393: e.iso6393, iso6391: e.iso6391 ?? null } : null;
}

/**
 * Every spelling of the languages in `labels`, lower-cased: "en" -> en, eng, english. The
 * filter compares lower(trim(label)) against this list, so corpora labelled by name (WildChat,
 * LMSYS) and by code (OASST) match the same `languages:`. A label the table lacks is kept as
 * written (lower-cased).
 */
export function languageAliases(labels: readonly string[]): string[] {
  const out = new Set<string>();
  for (const l of labels) {
    const e = languageIndex().get(l.trim().toLowerCase());
    out.add(l.trim().toLowerCase());
    if (!e) continue;
    for (const c of [e.iso6391, e.iso6392B, e.iso6392T, e.iso6393, e.name]) if (c) out.add(c.toLowerCase());
  }
  return [...out].sort();
}
