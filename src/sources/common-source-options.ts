import { Type, type Static, type TObject } from '@sinclair/typebox';
import { filled, oneOf } from '../config/schema-kit.js';

/** A Hugging Face Hub repo at a pinned commit. */
export const HubRefSchema = Type.Object(
  {
    repo: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'owner/name' }),
    repo_type: filled(oneOf(['dataset', 'model'] as const, { default: 'dataset' })),
    revision: Type.String({
      minLength: 1,
      description: 'A full 40-character commit sha (a branch or tag moves: the data would change under the same pipeline file).',
    }),
    files: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Globs over paths in the repo (* and ? within one folder, ** across folders).',
    }),
  },
  {
    additionalProperties: false,
    description:
      'A Hugging Face Hub repo at a pinned commit. `userlm-data pull` (and `run`, before it reads the source) downloads the files named by hub.files into the Hugging Face cache (HF_HUB_CACHE, or HF_HOME/hub), shared with Python.',
  },
);

/**
 * The keys every source has whatever its type, except `type` itself and `license`, whose
 * enum and documented default are assembled from the registry (pipeline-schema.ts).
 */
export const COMMON_SOURCE_OPTIONS = {
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', description: 'Prefix of every conversation_id from this source; unique within the pipeline.' }),
  files: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'Local files or globs (* and ?), read in sorted order. Leave out for a Hub source: its files are the snapshot `userlm-data pull` puts in the Hugging Face cache.',
    }),
  ),
  hub: Type.Optional(HubRefSchema),
  split: Type.Optional(
    Type.String({
      pattern: '^[a-z][a-z0-9_]*$',
      description: 'Send every conversation of this source to this split (e.g. test_ood for PRISM) instead of the user-disjoint split.',
    }),
  ),
  language: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Language to assume when the source has no language field (PRISM: English), or `detect`: label every conversation from its user turns with a language detector (eld; ISO 639-1 codes such as en, replacing any label the corpus has; a conversation it cannot place gets no label, which the language filter drops as language_unknown).',
    }),
  ),
  license: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9.+-]*$' })),
  trim: Type.Optional(
    Type.Object(
      {
        leading_assistant: Type.Optional(Type.Boolean({ description: 'Remove assistant turns before the first user turn (a chunk that starts mid-conversation).' })),
        trailing_user: Type.Optional(Type.Boolean({ description: 'Remove a last user turn that got no reply.' })),
      },
      {
        additionalProperties: false,
        description:
          'Repairs instead of drops, counted per source in the normalize notes. Default: on for the sharegpt preset and oasst, off otherwise (then the filter drops such conversations: starts_with_assistant, ends_with_user).',
      },
    ),
  ),
  consecutive_roles: Type.Optional(
    oneOf(['drop', 'merge'] as const, {
      description:
        'Two or more turns in a row of one role: drop the conversation (filter reason consecutive_roles; the default) or merge them into one turn, their texts joined by a blank line (counted).',
    }),
  ),
};

export type HubRef = Static<typeof HubRefSchema>;

/** What an adapter may rely on about any source, whatever its type. */
export type CommonSourceConfig = Static<TObject<typeof COMMON_SOURCE_OPTIONS>> & { type: string };
