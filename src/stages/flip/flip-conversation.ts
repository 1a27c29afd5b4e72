// The reference definition of flipping (FACTS: K user turns -> K+1 samples). The stage runs
// the same rule in SQL; tests hold the two to each other.

export interface ChatMessage {
  role: string;
  content: string;
}

export type SampleKind = 'initiation' | 'interaction' | 'termination';

export interface FlippedSample {
  turn_index: number;
  kind: SampleKind;
  /** System intent, then the history the user has seen. */
  messages: ChatMessage[];
  target: string;
}

export const END_TOKEN = '<|endconversation|>';

/** messages must alternate user/assistant starting with user and end with an assistant reply. */
export function flipConversation(intent: string, messages: ChatMessage[], endToken = END_TOKEN): FlippedSample[] {
  const userPositions = messages.flatMap((m, i) => (m.role === 'user' ? [i] : []));
  const k = userPositions.length;
  const system: ChatMessage = { role: 'system', content: intent };
  const out: FlippedSample[] = [];
  for (let t = 1; t <= k + 1; t++) {
    const cut = t <= k ? userPositions[t - 1]! : messages.length;
    out.push({
      turn_index: t,
      kind: t === 1 ? 'initiation' : t <= k ? 'interaction' : 'termination',
      messages: [system, ...messages.slice(0, cut)],
      target: t <= k ? messages[cut]!.content : endToken,
    });
  }
  return out;
}
