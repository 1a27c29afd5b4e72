import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { CommonSourceConfig } from './common-source-options.js';
import type { AdapterContext, AdapterResult } from './source-adapter.js';

/** A problem with one source's keys; `path` is relative to the source (e.g. ['fields', 'messages']). */
export interface SourceIssue {
  path: (string | number)[];
  message: string;
}

/** A source as its own type sees it: the common keys and its own options. */
export type SourceOf<O extends TProperties> = CommonSourceConfig & Static<TObject<O>>;

/**
 * Everything about one source type, in one file under src/sources/. The pipeline schema,
 * the config rules, the normalize stage, the manifest and the card all read it from here
 * (through registry.ts); nothing else names a source type.
 */
export interface SourceDefinition<T extends string = string, O extends TProperties = TProperties> {
  /** The `type:` value in a pipeline file. */
  type: T;
  /** How the card and messages name the corpus (e.g. "WildChat"). */
  title: string;
  /**
   * Schemas of the keys only this type accepts (generic's preset, fields, ...). Their
   * descriptions go into schemas/pipeline.schema.json; setting one on a source of another
   * type is an error that names this type.
   */
  options: O;
  /**
   * Rules the schema cannot express, for a source of this type. Runs even when the schema
   * check failed, so every value may be malformed: check its shape before use.
   */
  check?(source: Partial<SourceOf<O>>): SourceIssue[];
  /** Maps the source's files to the canonical Conversation columns (see canonicalSelect). */
  adapter(ctx: AdapterContext<SourceOf<O>>): Promise<AdapterResult>;
  /** Hub license id of the data when the pipeline gives none. */
  defaultLicense: string;
  /** BibTeX the dataset card cites for data of this type; null when there is none to cite. */
  citation: string | null;
  /** Sentences of the dataset card about this type's fields. */
  cardProse: {
    /** Who a user is (the user_key the split keeps disjoint), e.g. "hashed IP + country". */
    userKey?: string;
  };
  /**
   * What identifies a user of this source, or null when nothing does (then every
   * conversation is its own user: plan, validate and run warn, the manifest says
   * user_key: none). Absent: the type always has one (cardProse.userKey).
   */
  userKey?(source: SourceOf<O>): string | null;
  /** Repairs on by default for this source (chunked corpora), when the pipeline sets no trim. */
  defaultRepairs?(source: SourceOf<O>): { leading_assistant: boolean; trailing_user: boolean } | null;
}

/** Checks a definition's literal type and option keys at the definition site. */
export function defineSource<const T extends string, O extends TProperties>(d: SourceDefinition<T, O>): SourceDefinition<T, O> {
  return d;
}
