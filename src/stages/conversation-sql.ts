// SQL over a Conversation's `messages` that several stages share: one spelling of "the user
// turns" so that filter, dedup and intents never disagree on it.

export const USER_MESSAGES_SQL = `list_filter(messages, m -> m.role = 'user')`;
export const USER_TURN_COUNT_SQL = `len(${USER_MESSAGES_SQL})`;
export const FIRST_USER_TURN_SQL = `coalesce(${USER_MESSAGES_SQL}[1].content, '')`;
/** Every user turn, one per line. */
export const ALL_USER_TURNS_SQL = `array_to_string(list_transform(${USER_MESSAGES_SQL}, m -> m.content), chr(10))`;
