import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { collectReportData, type ReportData } from '../../src/report/collect-report-data.js';
import { findStageDir } from '../../src/report/find-stage-dir.js';
import { reasonAnchor } from '../../src/report/render-report-html.js';
import { reportForPipeline } from '../../src/report/report-for-pipeline.js';
import { buildDataset, STAGES, type BuildResult } from '../../src/stages/recipe.js';
import { runCli, samplePipelineYaml, tempDir, withDb, writePipeline } from '../helpers.js';

const CHROMIUM = process.env['USERLM_CHROMIUM'] ?? '/usr/bin/chromium';
const CHARTS = ['funnel', 'drops', 'token-lengths', 'user-turns', 'target-lengths', 'languages', 'countries', 'split-shares', 'cluster-sizes'];

describe('the run report of the bundled sample', () => {
  const dir = tempDir('userlm-report-');
  const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
  let built: BuildResult;
  let data: ReportData;
  let paths: string[];

  before(async () => {
    built = await buildDataset(pipeline(), silentLogger);
    paths = (await reportForPipeline(pipeline())).paths;
    data = await withDb((db) => collectReportData(db, join(dir, 'runs'), { stages: STAGES.map((s) => s.name) }));
  });

  it('counts what the stage markers count, per stage, source and reason', () => {
    for (const m of built.markers) {
      const out = data.funnel.filter((f) => f.stage === m.stage).reduce((a, f) => a + f.conversations, 0);
      assert.equal(out, m.conversations_out, `${m.stage}: conversations out summed over sources`);
      for (const [reason, n] of Object.entries(m.drops)) {
        const got = data.drops.filter((d) => d.stage === m.stage && d.reason === reason).reduce((a, d) => a + d.n, 0);
        assert.equal(got, n, `${m.stage}/${reason}`);
      }
    }
    // The sample's PRISM source loses one conversation in normalize (no chosen answer); filter drops from both.
    assert.ok(data.drops.some((d) => d.source === 'prism') && data.drops.some((d) => d.source === 'wildchat'));
  });

  it('gives every drop reason one to three examples, with text from the stage before', () => {
    for (const m of built.markers) {
      for (const reason of Object.keys(m.drops)) {
        const ex = data.dropExamples.filter((e) => e.stage === m.stage && e.reason === reason);
        assert.ok(ex.length >= 1 && ex.length <= 3, `${m.stage}/${reason}: ${ex.length} examples`);
        if (m.stage !== 'normalize') assert.ok(ex.every((e) => e.messages.length > 0 && e.messages.every((x) => x.content.length <= 301)), `${m.stage}/${reason} has clipped text`);
      }
    }
    const dup = data.dropExamples.find((e) => e.reason === 'exact_duplicate')!;
    assert.ok(dup.detail['duplicate_of'], 'an exact duplicate names its keeper');
  });

  it('shows the dedup clusters, languages before and after, and the leak pairs of the manifest', () => {
    assert.ok(data.dedup!.sizes.some((s) => s.kind === 'exact') && data.dedup!.sizes.some((s) => s.kind === 'near-duplicate'));
    assert.ok(data.dedup!.largest.every((c) => c.members.filter((m) => m.kept).length === 1 && c.members.length >= 2));
    const before = data.languages.filter((l) => l.when === 'before filtering').map((l) => l.key);
    const after = data.languages.filter((l) => l.when === 'in the shards').map((l) => l.key);
    assert.ok(before.length > after.length, `filtering removed languages: ${before} -> ${after}`);
    const leaked = Object.values(data.leaks.report!.by_split).reduce((a, b) => a + b, 0);
    assert.equal(data.leaks.pairs.length, Math.min(10, leaked));
    assert.ok(data.leaks.pairs.every((p) => p.text && p.train_text));
    assert.ok(data.intents!.examples.length > 0 && data.intents!.backends[0]!.backend === 'template');
  });

  it('writes the same page into the run directory and out_dir, small and self-contained', () => {
    assert.deepEqual(paths, [join(dir, 'runs', 'report.html'), join(dir, 'out', 'report.html')]);
    const html = readFileSync(paths[0]!, 'utf8');
    assert.equal(readFileSync(paths[1]!, 'utf8'), html);
    assert.ok(statSync(paths[0]!).size < 5 * 1024 * 1024);
    assert.doesNotMatch(html, /<script(?![^>]*type="application\/json")/, 'no executable script');
    assert.doesNotMatch(html.replace(/<svg[^]*?<\/svg>/g, ''), /(src|href)="(https?:)?\/\//, 'no remote resource outside the SVGs');
    for (const r of data.drops) assert.ok(html.includes(`id="${reasonAnchor(r.stage, r.reason)}"`), `anchor of ${r.stage}/${r.reason}`);
  });

  it('puts the funnel and token-length charts beside the shards, linked from the card, and keeps out_dir unchanged on a rerun', async () => {
    const card = readFileSync(join(dir, 'out', 'README.md'), 'utf8');
    for (const rel of ['charts/funnel.svg', 'charts/token-lengths.svg']) {
      assert.ok(card.includes(`](${rel})`), `card links ${rel}`);
      const svg = readFileSync(join(dir, 'out', rel), 'utf8');
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /class="mark-rect role-mark/);
    }
    const funnel = readFileSync(join(dir, 'out', 'charts', 'funnel.svg'));
    const again = await buildDataset(pipeline(), silentLogger);
    assert.equal(again.exported, 'unchanged', 'report.html in out_dir does not make the export rewrite it');
    assert.ok(existsSync(join(dir, 'out', 'report.html')));
    // Rebuild the shards stage: the same data must draw the same bytes.
    const { rmSync } = await import('node:fs');
    rmSync((await findStageDir(join(dir, 'runs'), 'shards'))!, { recursive: true });
    await buildDataset(pipeline(), silentLogger);
    assert.deepEqual(readFileSync(join(dir, 'out', 'charts', 'funnel.svg')), funnel);
  });

  it('renders in a real headless Chromium: every chart has data marks, no console error, no request', async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it (apt-get install -y chromium; .ci/run does) or set USERLM_CHROMIUM`);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const url = `file://${paths[0]}`;
      await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
      const found = await page.evaluate(() =>
        [...document.querySelectorAll('figure.chart')].map((f) => ({
          id: f.getAttribute('data-chart'),
          svgs: f.querySelectorAll(':scope > svg').length,
          marks: f.querySelectorAll('g.role-mark > path, g.role-mark > line, g.role-mark > rect').length,
          width: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
        })),
      );
      assert.deepEqual(found.map((f) => f.id), CHARTS);
      for (const f of found) {
        assert.equal(f.svgs, 1, `${f.id}: one svg`);
        assert.ok(f.marks > 0, `${f.id}: data marks drawn`);
        assert.ok(f.width > 100, `${f.id}: laid out (${f.width}px wide)`);
      }
      const funnelBars = found.find((f) => f.id === 'funnel')!.marks;
      assert.equal(funnelBars, data.funnel.filter((r) => r.conversations > 0).length, 'one funnel bar per stage and source');
      const anchors = await page.evaluate(() => [...document.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href')!.slice(1)).filter((id) => !document.getElementById(id)));
      assert.deepEqual(anchors, [], 'every in-page link has a target');
      const shots = join(dir, 'screenshots');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'report.png'), fullPage: true });
      assert.ok(statSync(join(shots, 'report.png')).size > 10_000);
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [url], 'only the page itself was loaded');
    } finally {
      await browser.close();
    }
  });
});

describe('userlm-data run and report on the command line', () => {
  it('--json prints only JSON lines, the last naming the report; report <run-dir> rebuilds it', () => {
    const dir = tempDir('userlm-report-cli-');
    const { file } = writePipeline(dir, samplePipelineYaml(dir));
    const r = runCli(['run', file, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = lines[lines.length - 1]!;
    assert.equal(done['event'], 'run.done');
    assert.equal(done['report'], join(dir, 'runs', 'report.html'));
    assert.ok(existsSync(join(dir, 'out', 'report.html')));
    const again = runCli(['report', join(dir, 'runs')]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /report written to .*runs\/report\.html and .*out\/report\.html/);
    const missing = runCli(['report', join(dir, 'nothing-here')]);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /no such run directory/);
  });
});

describe('findStageDir', () => {
  it('finds a stage directory by the stage name', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'split'));
    assert.equal(await findStageDir(dir, 'split'), join(dir, 'split'));
    assert.equal(await findStageDir(dir, 'dedu'), null);
    assert.equal(await findStageDir(join(dir, 'absent'), 'dedup'), null);
  });
});
