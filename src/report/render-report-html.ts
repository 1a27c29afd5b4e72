import type { ReportData } from './collect-report-data.js';

export interface RenderedChart {
  id: string;
  svg: string;
  caption: string;
}

function esc(s: unknown): string {
  return String(s ?? '').replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

const fmt = (n: number | null | undefined) => (n === null || n === undefined ? '-' : n.toLocaleString('en-US'));

/** Anchor of a drop reason's examples. */
export function reasonAnchor(stage: string, reason: string): string {
  return `ex-${stage}-${reason}`.toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
}

function table(head: string[], rows: (string | number)[][], numeric: boolean[] = []): string {
  const th = head.map((h, i) => `<th${numeric[i] ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="num"' : ''}>${typeof c === 'number' ? fmt(c) : c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function figure(charts: Map<string, RenderedChart>, id: string): string {
  const c = charts.get(id);
  if (!c) return '';
  return `<figure class="chart" id="chart-${esc(id)}" data-chart="${esc(id)}">${c.svg}<figcaption>${esc(c.caption)}</figcaption></figure>`;
}

function messages(ms: { role: string; content: string }[]): string {
  if (!ms.length) return '<p class="muted">(no text: the conversation never reached a stage that stores it)</p>';
  return ms.map((m) => `<div class="msg ${m.role === 'user' ? 'user' : 'other'}"><span class="role">${esc(m.role)}</span> ${esc(m.content)}</div>`).join('');
}

/**
 * The report page. Pure: data and pre-rendered SVG charts in, one HTML string out, with
 * nothing to fetch when it is opened (styles inline, charts inline, the data as JSON).
 */
export function renderReportHtml(d: ReportData, chartList: RenderedChart[]): string {
  const charts = new Map(chartList.map((c) => [c.id, c]));
  const firstStage = d.stages[0]!;
  const lastStage = d.stages[d.stages.length - 1]!;
  const S: string[] = [];

  S.push(
    `<header><h1>Run report: ${esc(d.name)}</h1><p>${fmt(firstStage.conversations_in)} conversations read, ` +
      `${fmt(lastStage.conversations_out)} kept (${((lastStage.conversations_out / Math.max(1, firstStage.conversations_in)) * 100).toFixed(1)}%), ` +
      `${fmt(lastStage.samples_out)} samples in the shards.</p>` +
      `<nav><a href="#funnel">funnel</a> · <a href="#lengths">lengths</a> · <a href="#languages">languages and countries</a> · <a href="#splits">splits</a> · <a href="#dedup">dedup</a> · <a href="#intents">intents</a> · <a href="#leaks">leaks</a> · <a href="#examples">drop examples</a></nav></header>`,
  );

  // Funnel
  S.push('<section id="funnel"><h2>Funnel</h2>');
  S.push(figure(charts, 'funnel'), figure(charts, 'drops'));
  S.push(
    table(
      ['stage', 'conversations in', 'conversations out', 'samples out', 'dropped', 'seconds'],
      d.stages.map((s) => [esc(s.name), s.conversations_in, s.conversations_out, s.samples_out === null ? '-' : s.samples_out, Object.values(s.drops).reduce((a, b) => a + b, 0), s.seconds]),
      [false, true, true, true, true, true],
    ),
  );
  const sources = [...new Set(d.drops.map((r) => r.source))].sort();
  const reasons = [...new Map(d.drops.map((r) => [`${r.order}\u0000${r.reason}`, r])).values()].sort((a, b) => a.order - b.order || (a.reason < b.reason ? -1 : 1));
  if (reasons.length) {
    S.push('<h3>Every drop reason</h3>');
    S.push(
      table(
        ['stage', 'reason', ...sources, 'total', 'examples'],
        reasons.map((r) => {
          const per = sources.map((s) => d.drops.find((x) => x.stage === r.stage && x.reason === r.reason && x.source === s)?.n ?? 0);
          return [esc(r.stage), `<code>${esc(r.reason)}</code>`, ...per, per.reduce((a, b) => a + b, 0), `<a href="#${reasonAnchor(r.stage, r.reason)}">examples</a>`];
        }),
        [false, false, ...sources.map(() => true), true, false],
      ),
    );
  } else S.push('<p>No conversation was dropped.</p>');
  if (d.sampleDrops.length) {
    S.push('<h3>Single samples dropped (their conversation kept other samples)</h3>');
    S.push(table(['stage', 'reason', 'samples'], d.sampleDrops.map((r) => [esc(r.stage), `<code>${esc(r.reason)}</code>`, r.n]), [false, false, true]));
  }
  S.push('</section>');

  // Lengths
  S.push('<section id="lengths"><h2>Lengths</h2>');
  if (d.tokens) {
    S.push(figure(charts, 'token-lengths'));
    const t = d.tokens.summary;
    if (t) {
      S.push(`<p>Tokenizer <code>${esc(t.tokenizer)}</code>, <code>max_seq_len</code> ${fmt(t.max_seq_len)}, overflow policy <code>${esc(t.overflow)}</code>.</p>`);
      S.push(
        table(
          ['split', 'samples', 'tokens', 'trained tokens', 'mean', 'p50', 'p95', 'max', 'truncated', 'dropped (too long)'],
          Object.entries(t.splits).map(([s, x]) => [esc(s), x.samples, x.tokens, x.target_tokens, x.mean, x.p50, x.p95, x.max, x.truncated, x.dropped]),
          [false, true, true, true, true, true, true, true, true, true],
        ),
      );
      if (t.dropped_without_split) S.push(`<p>${fmt(t.dropped_without_split)} more samples were dropped with their whole conversation (no sample fit).</p>`);
    }
  } else S.push('<p>No token counts (the run has no tokenize stage or no shards).</p>');
  S.push(figure(charts, 'user-turns'), figure(charts, 'target-lengths'), '</section>');

  // Languages and countries
  S.push('<section id="languages"><h2>Languages and countries</h2>', figure(charts, 'languages'), figure(charts, 'countries'), '</section>');

  // Splits
  S.push('<section id="splits"><h2>Splits</h2>', figure(charts, 'split-shares'));
  S.push(
    `<p>Configured fractions: ${d.fractions ? Object.entries(d.fractions).map(([s, f]) => `${esc(s)} ${(f * 100).toFixed(1)}%`).join(', ') : 'unknown (the pipeline file was not available; pass <code>--pipeline</code>)'}.</p>`,
  );
  S.push(
    table(
      ['split', 'users', 'conversations', 'samples', 'files'],
      Object.entries(d.splits).map(([s, x]) => [esc(s), x.users, x.conversations, x.samples, x.files]),
      [false, true, true, true, true],
    ),
    '</section>',
  );

  // Dedup
  S.push('<section id="dedup"><h2>Deduplication</h2>');
  if (d.dedup) {
    const n = d.dedup.notes;
    if (n) {
      S.push(
        `<p>${fmt(Number(n['documents']))} conversations compared (${fmt(Number(n['eligible']))} long enough for near-dup); ` +
          `${fmt(Number(n['near_duplicates']))} near-duplicates dropped in ${fmt(Number(n['clusters']))} clusters; ` +
          `${fmt(Number(n['templated']))} templated prompts dropped (${fmt(Number(n['frequent_ngrams']))} frequent n-grams); ` +
          `LSH ${esc(n['bands'])} bands x ${esc(n['rows'])} rows, ${fmt(Number(n['candidate_pairs']))} candidate pairs.</p>`,
      );
    } else S.push('<p>Near-duplicate and template detection was off; exact duplicates only.</p>');
    S.push(figure(charts, 'cluster-sizes'));
    if (d.dedup.largest.length) {
      S.push('<h3>The largest groups</h3>');
      for (const c of d.dedup.largest) {
        S.push(
          `<details class="cluster" open><summary>${c.kind === 'exact' ? 'exact duplicates' : 'near-duplicate cluster'} of ${fmt(c.size)} conversations, kept <code>${esc(c.cluster_id)}</code></summary><ul>` +
            c.members
              .map((m) => `<li>${m.kept ? '<b>kept</b>' : `similarity ${m.similarity === null ? '-' : m.similarity.toFixed(2)}`} <code>${esc(m.conversation_id)}</code>: ${esc(m.text)}</li>`)
              .join('') +
            '</ul></details>',
        );
      }
    } else S.push('<p>No duplicate groups.</p>');
    S.push(`<h3>Templated prompts: ${fmt(d.dedup.templated.count)}</h3>`);
    if (d.dedup.templated.examples.length) S.push(`<ul>${d.dedup.templated.examples.map((t) => `<li><code>${esc(t.conversation_id)}</code>: ${esc(t.text)}</li>`).join('')}</ul>`);
    S.push('<h3 id="near-misses">Near-misses</h3>');
    const np = d.dedup.nearPairs;
    if (!np) S.push('<p>Scored near-duplicate pairs (near_pairs.parquet): not recorded by this run.</p>');
    else {
      const pair = (p: NonNullable<typeof np>['closestUnmerged'][number]) =>
        `<li>similarity ${p.similarity.toFixed(3)}: <code>${esc(p.a)}</code>: ${esc(p.text_a)}<br><code>${esc(p.b)}</code>: ${esc(p.text_b)}</li>`;
      S.push(`<p>${fmt(np.count)} scored pairs recorded.</p>`);
      S.push(`<h4>Most similar, not merged</h4>${np.closestUnmerged.length ? `<ul class="near-unmerged">${np.closestUnmerged.map(pair).join('')}</ul>` : '<p>None.</p>'}`);
      S.push(`<h4>Least similar, merged</h4>${np.loosestMerged.length ? `<ul class="near-merged">${np.loosestMerged.map(pair).join('')}</ul>` : '<p>None.</p>'}`);
    }
  } else S.push('<p>The run has no dedup stage output.</p>');
  S.push('</section>');

  // Intents
  S.push('<section id="intents"><h2>Intents</h2>');
  if (d.intents) {
    S.push(`<p>Backends: ${d.intents.backends.map((b) => `${esc(b.backend)} (${fmt(b.n)})`).join(', ') || '-'}.</p>`);
    const l = d.intents.llm;
    if (l) {
      const keys = ['model', 'backend', 'requests', 'answers', 'retries', 'rate_limited', 'server_errors', 'timeouts', 'invalid_answers', 'rejected', 'cache_hits', 'prompt_tokens', 'completion_tokens', 'cost_usd'];
      S.push(table(['', ''], keys.filter((k) => k in l).map((k) => [esc(k), esc(typeof l[k] === 'number' ? fmt(l[k] as number) : l[k] ?? '-')])));
    } else S.push('<p>No LLM was called (template intents): no cost, no retries, no invalid answers.</p>');
    S.push('<h3>A sample of intents</h3>');
    S.push(table(['conversation', 'first user turn', 'intent'], d.intents.examples.map((e) => [`<code>${esc(e.conversation_id)}</code>`, esc(e.text), esc(e.intent)])));
  } else S.push('<p>The run has no intents stage output.</p>');
  S.push('</section>');

  // Leaks
  S.push('<section id="leaks"><h2>Leak check</h2>');
  const lr = d.leaks.report;
  if (lr) {
    const total = Object.values(lr.by_split).reduce((a, b) => a + b, 0);
    S.push(
      `<p>Held-out conversations near-duplicate of a ${esc(lr.against)} conversation (estimated Jaccard &gt;= ${esc(lr.threshold)}): ` +
        (total ? Object.entries(lr.by_split).map(([s, n]) => `${esc(s)} ${fmt(n)}`).join(', ') : 'none') +
        (total ? (lr.dropped ? '; dropped (<code>split_leak</code>).' : '; kept (set <code>split.drop_leaks: true</code> to drop them).') : '.') +
        '</p>',
    );
    if (d.leaks.pairs.length) {
      S.push(
        table(
          ['split', 'similarity', 'held-out conversation', `${lr.against} conversation`],
          d.leaks.pairs.map((p) => [esc(p.split), p.similarity.toFixed(2), `<code>${esc(p.conversation_id)}</code> ${esc(p.text)}`, `<code>${esc(p.train_conversation_id)}</code> ${esc(p.train_text)}`]),
        ),
      );
    }
  } else S.push('<p>The leak check was off (<code>split.check_leaks: false</code>).</p>');
  S.push('</section>');

  // Examples per drop reason
  S.push('<section id="examples"><h2>Examples of every drop reason</h2><p>A few conversations per reason, chosen by a hash of their id; texts cut short.</p>');
  for (const r of reasons) {
    S.push(`<h3 id="${reasonAnchor(r.stage, r.reason)}">${esc(r.stage)}: <code>${esc(r.reason)}</code></h3>`);
    for (const e of d.dropExamples.filter((x) => x.stage === r.stage && x.reason === r.reason)) {
      const detail = Object.entries(e.detail).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(' · ');
      S.push(`<div class="example"><div class="meta"><code>${esc(e.conversation_id)}</code>${detail ? ` · ${detail}` : ''}</div>${messages(e.messages)}</div>`);
    }
  }
  S.push('</section>');

  // The aggregates as data, for anyone who wants to plot them differently; "</" cannot end the script early.
  const json = JSON.stringify(d).replaceAll('</', '<\\/').replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>userlm-data report: ${esc(d.name)}</title>
<style>
body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;max-width:1100px;margin:0 auto;padding:16px 24px 64px}
h1{font-size:24px;margin:8px 0}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}h3{margin-top:24px}
nav a{color:#08519c}a{color:#08519c}
table{border-collapse:collapse;margin:12px 0;font-size:13px}th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure.chart{margin:16px 0;overflow-x:auto}figure.chart svg{max-width:100%;height:auto}figcaption{color:#666;font-size:12px}
code{background:#f3f3f3;padding:0 3px;border-radius:3px;font-size:12px}
.example{border:1px solid #e3e3e3;border-radius:4px;padding:6px 10px;margin:8px 0}.meta{color:#555;font-size:12px;margin-bottom:4px}
.msg{margin:2px 0;white-space:pre-wrap;word-break:break-word}.msg .role{display:inline-block;min-width:70px;color:#888;font-size:12px}.msg.user .role{color:#08519c}
.muted{color:#888}details.cluster{margin:8px 0}details.cluster li{margin:3px 0;word-break:break-word}
</style></head>
<body>
${S.join('\n')}
<script type="application/json" id="report-data">${json}</script>
</body></html>
`;
}
