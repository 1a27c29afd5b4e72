import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { Db } from '../core/db.js';
import { collectReportData, type CollectOptions } from './collect-report-data.js';
import { renderReportCharts } from './report-chart-list.js';
import { renderReportHtml } from './render-report-html.js';

export const REPORT_FILE = 'report.html';

export interface WriteReportOptions extends CollectOptions {
  runDir: string;
  /** Also written here (the run's out_dir), when given. */
  outDir?: string | null;
  /** An open connection; without one the report opens its own. */
  db?: Db;
  threads?: number;
  memoryLimit?: string;
}

/** Build `<run>/report.html` (and `<out_dir>/report.html`) from a finished run's files. */
export async function writeReport(opts: WriteReportOptions): Promise<{ paths: string[]; bytes: number }> {
  const db = opts.db ?? (await Db.open({ threads: opts.threads, memoryLimit: opts.memoryLimit }));
  try {
    const data = await collectReportData(db, opts.runDir, opts);
    const html = renderReportHtml(data, await renderReportCharts(data));
    const paths = [join(opts.runDir, REPORT_FILE)];
    if (opts.outDir) paths.push(join(opts.outDir, REPORT_FILE));
    for (const p of paths) {
      await mkdir(join(p, '..'), { recursive: true });
      await writeFileAtomic(p, html);
    }
    return { paths, bytes: Buffer.byteLength(html) };
  } finally {
    if (!opts.db) db.close();
  }
}
