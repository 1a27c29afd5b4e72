import type { CommonSourceConfig } from './common-source-options.js';

/** `language: detect` on a source: label each conversation from its user turns. */
export const DETECT = 'detect';

/**
 * The detector and its n-gram database. Part of the normalize options of a source that
 * detects, so that a different detector reruns the stage; a test pins it to the installed
 * package. Measured against eld's neighbours in docs/measure-language-detectors.mjs.
 */
export const LANGUAGE_DETECTOR = 'eld 2.1.0 medium';

/**
 * How much of a conversation's user text (turns joined by newlines) the detector reads. On
 * the real WildChat rows 2,000 characters decide the same as the whole text, and it bounds
 * the cost of a long paste.
 */
export const DETECT_CHARS = 2000;

/** The label a source assumes for conversations without one: its `language:` unless that asks for detection. */
export function assumedLanguage(source: CommonSourceConfig): string | null {
  return source.language === undefined || source.language === DETECT ? null : source.language;
}

export type LanguageDetector = (text: string) => string | null;

let loaded: Promise<LanguageDetector> | null = null;

/**
 * The detector: text -> ISO 639-1 code, or null when it names no language (no letters: digits,
 * emoji, punctuation). Loaded on first use: its database costs ~180 MB and a second to load,
 * which a run that detects nothing should not pay.
 */
export function loadLanguageDetector(): Promise<LanguageDetector> {
  loaded ??= import('eld/medium').then(({ eld }) => (text: string) => {
    const code = eld.detect(text).language;
    return code === '' ? null : code;
  });
  return loaded;
}
