export interface ChatTurn {
  role: string;
  content: string;
}

export interface RenderBudget {
  /** Assistant turns longer than this keep their head and tail. */
  assistantMaxChars: number;
  userMaxChars: number;
  /** The whole rendering; middle turns are left out past it. */
  conversationMaxChars: number;
}

/** Keeps the head (two thirds) and tail of a long text; the tail often holds the conclusion. */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = (n: number) => ` [... ${n} characters left out ...] `;
  const room = Math.max(0, max - marker(text.length).length);
  const head = Math.ceil((room * 2) / 3);
  const tail = room - head;
  return text.slice(0, head) + marker(text.length - head - tail) + (tail > 0 ? text.slice(text.length - tail) : '');
}

function renderTurn(t: ChatTurn, b: RenderBudget): string {
  const max = t.role === 'assistant' ? b.assistantMaxChars : b.userMaxChars;
  return `[${t.role}]\n${clipText(t.content ?? '', max).trim()}`;
}

/**
 * The conversation as the intent writer reads it. Pure and deterministic: its output is part
 * of the cache key, so any change here must bump the intents stage version.
 */
export function renderConversation(turns: readonly ChatTurn[], b: RenderBudget): string {
  const parts = turns.map((t) => renderTurn(t, b));
  const sep = '\n\n';
  const total = parts.reduce((a, p) => a + p.length + sep.length, 0);
  if (total <= b.conversationMaxChars) return parts.join(sep);
  // Keep the opening (what the user came for) and the end (where they got to); the user's
  // goal rarely lives only in the middle of a long exchange.
  const head: string[] = [];
  const tail: string[] = [];
  let used = 0;
  let i = 0;
  let j = parts.length - 1;
  while (i <= j) {
    const fromHead = head.length <= tail.length;
    const p = fromHead ? parts[i]! : parts[j]!;
    if (used + p.length + sep.length > b.conversationMaxChars) break;
    used += p.length + sep.length;
    if (fromHead) head.push(parts[i++]!);
    else tail.unshift(parts[j--]!);
  }
  const left = j - i + 1;
  if (head.length === 0) head.push(clipText(parts[0]!, Math.max(100, b.conversationMaxChars - 100)));
  return [...head, `[... ${left} turn${left === 1 ? '' : 's'} left out ...]`, ...tail].join(sep);
}
