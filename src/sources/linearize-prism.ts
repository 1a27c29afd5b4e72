// PRISM stores a branching conversation: per turn one user item and 2-4 model answers, of
// which the one with if_chosen continued the thread. We follow the chosen path.

export interface PrismHistoryItem {
  turn?: unknown;
  role?: unknown;
  content?: unknown;
  if_chosen?: unknown;
  within_turn_id?: unknown;
}

export interface Message {
  role: 'user' | 'assistant';
  content: string;
}

export type PrismRepair = 'multiple_chosen' | 'missing_choice_truncated' | 'multiple_user_items';

export interface LinearizedPrism {
  messages: Message[];
  /** Set when nothing usable is left; the conversation is dropped with this reason. */
  dropReason?: 'prism_no_chosen_answer' | 'prism_no_history';
  repairs: PrismRepair[];
}

export const PRISM_EMPTY = 'EMPTY STRING';

function text(v: unknown): string {
  if (typeof v !== 'string') return '';
  return v === PRISM_EMPTY ? '' : v;
}

export function linearizePrism(history: unknown): LinearizedPrism {
  const repairs: PrismRepair[] = [];
  if (!Array.isArray(history) || history.length === 0) return { messages: [], dropReason: 'prism_no_history', repairs };
  const turns = new Map<number, { users: PrismHistoryItem[]; chosen: PrismHistoryItem[] }>();
  for (const raw of history as PrismHistoryItem[]) {
    if (raw === null || typeof raw !== 'object') continue;
    const t = Number(raw.turn);
    if (!Number.isInteger(t) || t < 0) continue;
    let slot = turns.get(t);
    if (!slot) turns.set(t, (slot = { users: [], chosen: [] }));
    if (raw.role === 'user') slot.users.push(raw);
    else if ((raw.role === 'model' || raw.role === 'assistant') && raw.if_chosen === true) slot.chosen.push(raw);
  }
  const messages: Message[] = [];
  const order = [...turns.keys()].sort((a, b) => a - b);
  for (const [i, t] of order.entries()) {
    // A gap in turn numbers means the thread is broken there; keep what came before.
    if (t !== i) {
      repairs.push('missing_choice_truncated');
      break;
    }
    const slot = turns.get(t)!;
    if (slot.users.length === 0) {
      repairs.push('missing_choice_truncated');
      break;
    }
    if (slot.users.length > 1) repairs.push('multiple_user_items');
    if (slot.chosen.length === 0) {
      repairs.push('missing_choice_truncated');
      break;
    }
    let chosen = slot.chosen[0]!;
    if (slot.chosen.length > 1) {
      repairs.push('multiple_chosen');
      // Deterministic pick: the lowest within_turn_id, then the first listed.
      chosen = [...slot.chosen].sort((a, b) => Number(a.within_turn_id ?? Infinity) - Number(b.within_turn_id ?? Infinity))[0]!;
    }
    messages.push({ role: 'user', content: text(slot.users[0]!.content) });
    messages.push({ role: 'assistant', content: text(chosen.content) });
  }
  if (messages.length === 0) return { messages, dropReason: 'prism_no_chosen_answer', repairs };
  return { messages, repairs };
}
