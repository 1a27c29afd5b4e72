/** Per message of a sample, strlen(role) + strlen(content): the list rowBytesSql and arrowBytesSql sum. */
export function messageSizesSql(messages: string): string {
  return `list_transform(${messages}, m -> strlen(m.role) + strlen(m.content))`;
}

/**
 * SQL for the uncompressed size of one shard row, in bytes: each string's bytes plus its 4-byte
 * length (Parquet's plain encoding; Arrow's int32 offset), 4 per int32, 4 per list offset and a
 * few bytes per value for Parquet's repetition/definition levels and page headers: an upper
 * bound of what DuckDB writes uncompressed, which row groups and files are cut by. sizes: the
 * sample's messages as messageSizesSql lists them (the shards stage computes it without
 * building the messages). target: SQL for the target's length in bytes (the shards stage has
 * the lengths, not the text).
 */
export function rowBytesSql(chatColumn: boolean, sizes = messageSizesSql('messages'), target = 'strlen(target)'): string {
  const str = (c: string) => `(coalesce(strlen(${c}), 0) + 4)`;
  const strings = ['sample_id', 'conversation_id', 'source', 'split', 'user_key', 'country', 'language', 'kind', 'intent'];
  const list = (extra: number) => `(8 + coalesce(list_sum(list_transform(${sizes}, s -> s + ${12 + extra})), 0))`;
  const parts = [
    ...strings.map(str),
    // turn_index, num_user_turns, num_tokens, num_target_tokens, history_messages_dropped, and levels.
    '5 * 4 + 16',
    `(coalesce(${target}, 0) + 4)`,
    list(0),
    ...(chatColumn ? [`${list(1)} + ${target} + 13`] : []),
  ];
  return `(${parts.join(' + ')})`;
}

/**
 * SQL for one row's share of its split's Arrow size, which `datasets` reports as the split's
 * num_bytes (the sum of the Arrow buffers: each string's bytes and 4-byte offset, 4 per int32,
 * a 4-byte offset per list). Validity bitmaps and each array's one extra offset are left out:
 * on the sample this is 0.05% under what datasets 5.0.1 reports.
 */
export function arrowBytesSql(chatColumn: boolean, sizes = messageSizesSql('messages'), target = 'strlen(target)'): string {
  const str = (c: string) => `(coalesce(strlen(${c}), 0) + 4)`;
  const strings = ['sample_id', 'conversation_id', 'source', 'split', 'user_key', 'country', 'language', 'kind', 'intent'];
  const list = `(4 + coalesce(list_sum(list_transform(${sizes}, s -> s + 8)), 0))`;
  const parts = [...strings.map(str), `(coalesce(${target}, 0) + 4)`, '5 * 4', list, ...(chatColumn ? [`${list} + ${target} + 12`] : [])];
  return `(${parts.join(' + ')})`;
}
