/** One message of an OpenAssistant tree as the *.trees.jsonl files hold it. */
export interface OasstMessage {
  message_id?: unknown;
  role?: unknown;
  text?: unknown;
  rank?: unknown;
  deleted?: unknown;
  review_result?: unknown;
  created_date?: unknown;
  lang?: unknown;
  replies?: unknown;
}

export type OasstTurn = { role: string; content: string };

/** Deleted and review-rejected messages are not part of any conversation. */
export function oasstUsable(m: OasstMessage): boolean {
  return m.deleted !== true && m.review_result !== false;
}

function replies(m: OasstMessage): OasstMessage[] {
  return Array.isArray(m.replies) ? (m.replies as OasstMessage[]).filter((r) => r !== null && typeof r === 'object' && oasstUsable(r)) : [];
}

function turn(m: OasstMessage): OasstTurn {
  const role = m.role === 'prompter' ? 'user' : m.role === 'assistant' ? 'assistant' : String(m.role);
  return { role, content: typeof m.text === 'string' ? m.text : '' };
}

/** Best first: rank 0 is the best sibling; unranked ones after, by time then id, so the choice is stable. */
function byRank(a: OasstMessage, b: OasstMessage): number {
  const ra = typeof a.rank === 'number' ? a.rank : Infinity;
  const rb = typeof b.rank === 'number' ? b.rank : Infinity;
  if (ra !== rb) return ra - rb;
  const ta = String(a.created_date ?? '');
  const tb = String(b.created_date ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  return String(a.message_id ?? '') < String(b.message_id ?? '') ? -1 : 1;
}

/** The path of the top-ranked usable reply at each step, from the prompt down. */
export function bestPath(root: OasstMessage): { turns: OasstTurn[]; leafId: string } {
  const turns: OasstTurn[] = [];
  let cur: OasstMessage | undefined = root;
  let leafId = String(root.message_id ?? '');
  while (cur) {
    turns.push(turn(cur));
    leafId = String(cur.message_id ?? '');
    cur = replies(cur).sort(byRank)[0];
  }
  return { turns, leafId };
}

/** Every root-to-leaf path through usable messages, best-ranked branches first. */
export function allPaths(root: OasstMessage): { turns: OasstTurn[]; leafId: string }[] {
  const out: { turns: OasstTurn[]; leafId: string }[] = [];
  // Iterative: a tree is as deep as its longest thread.
  const stack: { node: OasstMessage; prefix: OasstTurn[] }[] = [{ node: root, prefix: [] }];
  while (stack.length) {
    const { node, prefix } = stack.pop()!;
    const path = [...prefix, turn(node)];
    const next = replies(node).sort(byRank);
    if (next.length === 0) out.push({ turns: path, leafId: String(node.message_id ?? '') });
    for (let i = next.length - 1; i >= 0; i--) stack.push({ node: next[i]!, prefix: path });
  }
  return out;
}
