import { Type, type Static } from '@sinclair/typebox';

const field = () => Type.Optional(Type.String({ minLength: 1 }));

export const GenericFieldsSchema = Type.Object(
  {
    id: field(),
    messages: field(),
    role: field(),
    content: field(),
    user: field(),
    country: field(),
    language: field(),
    timestamp: field(),
    toxic: field(),
    redacted: field(),
  },
  { additionalProperties: false, description: 'generic only: which input field holds what. Nested fields use dots (meta.user).' },
);

export type GenericFields = Static<typeof GenericFieldsSchema>;

export type PresetName = 'openai' | 'sharegpt' | 'lmsys';

export interface Preset {
  fields: GenericFields;
  roles: Record<string, 'user' | 'assistant' | 'system'>;
  /** Default of user_pattern. */
  userPattern?: string;
  /** Default of trim (chunked corpora open with the assistant and end mid-exchange). */
  trim?: { leading_assistant: boolean; trailing_user: boolean };
}

export const PRESETS: Record<PresetName, Preset> = {
  openai: {
    fields: { messages: 'messages', role: 'role', content: 'content' },
    roles: { user: 'user', assistant: 'assistant', system: 'system', developer: 'system' },
  },
  // ShareGPT dumps: chunks of one conversation are "<id>_<n>"; the id before _ is the user group.
  sharegpt: {
    fields: { id: 'id', user: 'id', messages: 'conversations', role: 'from', content: 'value' },
    roles: { human: 'user', user: 'user', gpt: 'assistant', chatgpt: 'assistant', bard: 'assistant', bing: 'assistant', assistant: 'assistant', system: 'system' },
    userPattern: '^(.*?)(?:_\\d+)?$',
    trim: { leading_assistant: true, trailing_user: true },
  },
  // lmsys/lmsys-chat-1m: no user column (user_key none), language names as WildChat has them.
  lmsys: {
    fields: { id: 'conversation_id', messages: 'conversation', role: 'role', content: 'content', language: 'language', redacted: 'redacted' },
    roles: { user: 'user', assistant: 'assistant', system: 'system' },
  },
};

export interface GenericMappingInput {
  preset?: PresetName;
  fields?: GenericFields;
  roles?: Record<string, 'user' | 'assistant' | 'system'>;
  user_pattern?: string;
}

export function genericMapping(source: GenericMappingInput): { fields: GenericFields; roles: Record<string, string>; userPattern: string | null } {
  const preset = source.preset ? PRESETS[source.preset] : undefined;
  const fields: GenericFields = { role: 'role', content: 'content', ...preset?.fields, ...source.fields };
  const roles: Record<string, string> = { user: 'user', assistant: 'assistant', system: 'system', ...preset?.roles, ...source.roles };
  // A user field named explicitly is taken as it is, unless a pattern is named with it.
  const userPattern = source.user_pattern ?? (source.fields?.user ? null : preset?.userPattern ?? null);
  return { fields, roles, userPattern };
}
