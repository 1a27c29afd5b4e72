import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';

/**
 * written: input file on disk, nothing sent. uploaded: file_id known. submitted: batch_id
 * known. done: results read into the cache. failed: the batch failed as a whole (its
 * requests go into a later file).
 */
export type BatchJobStatus = 'written' | 'uploaded' | 'submitted' | 'done' | 'failed';

export interface BatchJob {
  /** File name inside the store's directory. */
  input: string;
  model: string;
  requests: number;
  bytes: number;
  round: number;
  status: BatchJobStatus;
  file_id: string | null;
  batch_id: string | null;
  /** When the upload started (unix seconds): a batch for this file cannot be older. */
  uploaded_at: number | null;
  batch_status: string | null;
  errors: string[];
}

interface StoreFile {
  version: 1;
  jobs: BatchJob[];
}

/**
 * The batch jobs of a run, saved atomically after every change, so that a restarted process
 * resumes the batches it already paid for (and never uploads or submits a file twice).
 */
export class BatchJobStore {
  private constructor(
    readonly dir: string,
    readonly jobs: BatchJob[],
  ) {}

  static async open(dir: string): Promise<BatchJobStore> {
    try {
      const data = JSON.parse(await readFile(join(dir, 'jobs.json'), 'utf8')) as StoreFile;
      return new BatchJobStore(dir, data.jobs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new BatchJobStore(dir, []);
      throw e;
    }
  }

  path(job: BatchJob): string {
    return join(this.dir, job.input);
  }

  active(): BatchJob[] {
    return this.jobs.filter((j) => j.status !== 'done' && j.status !== 'failed');
  }

  async add(job: BatchJob): Promise<void> {
    this.jobs.push(job);
    await this.save();
  }

  async update(job: BatchJob, patch: Partial<BatchJob>): Promise<void> {
    Object.assign(job, patch);
    await this.save();
  }

  private async save(): Promise<void> {
    const data: StoreFile = { version: 1, jobs: this.jobs };
    await writeFileAtomic(join(this.dir, 'jobs.json'), JSON.stringify(data, null, 1) + '\n');
  }
}
