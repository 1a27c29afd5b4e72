export interface RateLimiterOptions {
  /** null: unlimited. */
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Bucket {
  perMs: number;
  capacity: number;
  level: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Request and token budgets as token buckets that refill continuously, holding one second
 * of budget so that a start does not burst a whole minute's worth at once. Waiters are
 * served first come, first served. A request costing more than a bucket holds waits for a
 * full bucket and leaves it in debt, so a large request is never starved.
 */
export class RateLimiter {
  private readonly buckets: Bucket[] = [];
  private readonly req: Bucket | null;
  private readonly tok: Bucket | null;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private last: number;
  private pausedUntil = 0;
  private readonly queue: { tokens: number; resolve: () => void }[] = [];
  private pumping = false;

  constructor(o: RateLimiterOptions) {
    this.now = o.now ?? (() => performance.now());
    this.sleep = o.sleep ?? defaultSleep;
    this.last = this.now();
    const make = (perMinute: number | null): Bucket | null => {
      if (perMinute === null) return null;
      const capacity = Math.max(1, perMinute / 60);
      const b = { perMs: perMinute / 60_000, capacity, level: capacity };
      this.buckets.push(b);
      return b;
    };
    this.req = make(o.requestsPerMinute);
    this.tok = make(o.tokensPerMinute);
  }

  /** Resolves when one request of about `tokens` tokens may be sent. */
  acquire(tokens: number): Promise<void> {
    if (this.buckets.length === 0 && this.queue.length === 0 && this.now() >= this.pausedUntil) return Promise.resolve();
    return new Promise((resolve) => {
      this.queue.push({ tokens, resolve });
      if (!this.pumping) void this.pump();
    });
  }

  /** Correct the token estimate once the real usage is known (negative refunds). */
  adjust(tokens: number): void {
    if (!this.tok) return;
    this.refill();
    this.tok.level = Math.min(this.tok.capacity, this.tok.level - tokens);
  }

  /** Hold every request for ms (a 429 means the whole account is over its limit, not one request). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private refill(): void {
    const t = this.now();
    const dt = Math.max(0, t - this.last);
    this.last = t;
    for (const b of this.buckets) b.level = Math.min(b.capacity, b.level + dt * b.perMs);
  }

  private waitFor(tokens: number): number {
    let wait = Math.max(0, this.pausedUntil - this.now());
    if (this.req) wait = Math.max(wait, (1 - this.req.level) / this.req.perMs);
    if (this.tok) wait = Math.max(wait, (Math.min(tokens, this.tok.capacity) - this.tok.level) / this.tok.perMs);
    return wait;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        this.refill();
        const head = this.queue[0]!;
        const wait = this.waitFor(head.tokens);
        if (wait > 0) {
          await this.sleep(Math.max(1, Math.ceil(wait)));
          continue;
        }
        if (this.req) this.req.level -= 1;
        if (this.tok) this.tok.level -= head.tokens;
        this.queue.shift();
        head.resolve();
      }
    } finally {
      this.pumping = false;
    }
  }
}
