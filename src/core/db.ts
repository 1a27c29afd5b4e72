import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { StageError } from './errors.js';
import './keep-leading-bom.js';

export type Params = Record<string, DuckDBValue> | DuckDBValue[];

export interface DbOptions {
  /** Where DuckDB spills when a query outgrows memory_limit. */
  tempDirectory?: string;
  /** DuckDB worker threads; defaults to DuckDB's choice (all cores). */
  threads?: number;
  /** e.g. "4GB"; defaults to DuckDB's (80% of RAM). */
  memoryLimit?: string;
  /** engine.memory_limit, when memoryLimit is DuckDB's share of it (for the out-of-memory message). */
  budget?: string;
}

/** One DuckDB connection with the settings every stage relies on: no network. */
export class Db {
  private side: DuckDBConnection | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly memoryLimit: string | undefined,
    private readonly budget: string | undefined,
  ) {}

  /**
   * DuckDB's out-of-memory error is a query failing, and callers that wrap query failures
   * would blame their input (a source file) for it; this one names the setting to change.
   */
  private failure(e: unknown): unknown {
    const text = String((e as Error)?.message ?? e);
    if (!/Out of Memory Error/i.test(text)) return e;
    return new StageError(
      `DuckDB ran out of memory in ${this.budget ? `its share (${this.memoryLimit}) of engine.memory_limit ${this.budget}` : `memory_limit ${this.memoryLimit ?? '(default: 80% of RAM)'}`} (${text.split('\n')[0]}). ` +
        'Raise engine.memory_limit in the pipeline file (default 4GiB), or lower engine.threads, then rerun: finished stages are kept.',
      { cause: e },
    );
  }

  /**
   * An appender on a second connection. An appender on the connection that is streaming a
   * result flushes into it every so many rows and silently ends the stream (at 100k
   * conversations the tokenize stage lost a quarter of them that way). The table must be a
   * regular one, not TEMP, so that both connections see it.
   */
  async appender(table: string): Promise<DuckDBAppender> {
    this.side ??= await this.instance.connect();
    return this.side.createAppender(table);
  }

  static async open(opts: DbOptions = {}): Promise<Db> {
    const config: Record<string, string> = {
      // Never reach for the network: parquet and json are built into the binary. Without
      // icu, TIMESTAMPTZ -> TIMESTAMP casts are in UTC whatever the machine's time zone.
      autoinstall_known_extensions: 'false',
    };
    if (opts.threads !== undefined) config['threads'] = String(opts.threads);
    if (opts.memoryLimit !== undefined) config['memory_limit'] = opts.memoryLimit;
    if (opts.tempDirectory !== undefined) config['temp_directory'] = opts.tempDirectory;
    const instance = await DuckDBInstance.create(':memory:', config);
    const conn = await instance.connect();
    return new Db(instance, conn, opts.memoryLimit, opts.budget);
  }

  async run(sql: string, params?: Params): Promise<void> {
    await this.conn.run(sql, params).catch((e: unknown) => {
      throw this.failure(e);
    });
  }

  async all<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql, params).catch((e: unknown) => {
      throw this.failure(e);
    });
    return reader.getRowObjectsJS() as T[];
  }

  async one<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T> {
    const rows = await this.all<T>(sql, params);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${sql.slice(0, 80)}`);
    return rows[0] as T;
  }

  async count(sql: string, params?: Params): Promise<number> {
    const row = await this.one<{ n: unknown }>(`SELECT count(*) AS n FROM (${sql})`, params);
    return Number(row.n);
  }

  close(): void {
    this.side?.closeSync();
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/**
 * A SQL string literal. Only for file paths in places DuckDB cannot bind a parameter
 * (COPY ... TO, read_* with a list of files); user data is always bound.
 */
export function sqlString(s: string): string {
  if (s.includes('\0')) throw new Error('NUL byte in a path');
  return `'${s.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier, for column names that come from a pipeline file's mapping. */
export function sqlIdent(s: string): string {
  if (s.includes('\0')) throw new Error('NUL byte in an identifier');
  return `"${s.replaceAll('"', '""')}"`;
}

export function sqlList(items: string[]): string {
  return `[${items.map(sqlString).join(', ')}]`;
}

export function toNumber(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  if (v === null || v === undefined) return 0;
  return Number(v);
}
