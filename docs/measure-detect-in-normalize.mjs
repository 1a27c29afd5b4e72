// The cost of `language: detect` in the normalize stage: the 50 real WildChat rows repeated to N conversations
// (OpenAI messages JSONL, no language field), normalize run alone with `language: en` (the floor: reading,
// mapping and writing) and with `language: detect`, each in its own process. After `make build`, from the
// repository root: node docs/measure-detect-in-normalize.mjs [N=50000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [mode, file, runDir] = process.argv.slice(2);
if (mode === 'en' || mode === 'detect') {
  const { parsePipeline } = await import('../dist/src/config/load-pipeline.js');
  const { runPipeline } = await import('../dist/src/core/runner.js');
  const { silentLogger } = await import('../dist/src/core/logger.js');
  const { normalizeStage } = await import('../dist/src/stages/normalize/normalize-stage.js');
  const p = parsePipeline(`name: m\nrun_dir: ${runDir}\nengine: {threads: 2}\nsources:\n  - {name: m, type: generic, preset: openai, files: [${file}], language: ${mode}}\n`, 'measure.yaml');
  const t0 = performance.now();
  const r = await runPipeline(p, [normalizeStage], { log: silentLogger });
  const u = process.resourceUsage();
  console.log(JSON.stringify({ mode, wall_s: +((performance.now() - t0) / 1000).toFixed(1), cpu_s: +((u.userCPUTime + u.systemCPUTime) / 1e6).toFixed(1), peak_rss_mb: Math.round(u.maxRSS / 1024), conversations: r.markers[0].conversations_out }));
} else {
  const n = Number(process.argv[2] ?? 50000);
  const dir = mkdtempSync(join(tmpdir(), 'measure-detect-'));
  const rows = readFileSync('test/fixtures/wildchat-1m-sample50.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const lines = [];
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const msgs = rows[i % 50].conversation.map((m) => ({ role: m.role, content: m.content + (i < 50 ? '' : ` (${i})`) }));
    chars += Math.min(2000, msgs.filter((m) => m.role === 'user').map((m) => m.content).join('\n').length);
    lines.push(JSON.stringify({ messages: msgs }));
  }
  const corpus = join(dir, 'corpus.jsonl');
  writeFileSync(corpus, lines.join('\n') + '\n');
  console.log(`${n} conversations, ${(chars / 1e6).toFixed(1)} M characters for the detector, corpus in ${dir}`);
  for (const m of ['en', 'detect']) process.stdout.write(execFileSync(process.execPath, [process.argv[1], m, corpus, join(dir, `run-${m}`)], { encoding: 'utf8' }));
}
