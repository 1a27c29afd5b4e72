export interface InvalidAnswerGuardOptions {
  /** Stop when more than this share of the recent conversations got no usable intent; 1 turns the guard off. */
  maxFraction: number;
  /** How many of the most recent conversations it looks at; it never fires on fewer (the minimum sample). */
  window: number;
}

export interface GuardVerdict {
  /** Conversations without a usable intent among those looked at. */
  bad: number;
  looked: number;
  /** The last bad answer or refusal, as the endpoint gave it. */
  last: string | null;
  /** 'window': too many recent ones; 'all': too many of all it saw; 'nothing_kept': the stage would keep no conversation at all. */
  rule: 'window' | 'all' | 'nothing_kept';
}

/**
 * Tells a misbehaving endpoint (a 200 whose text is never an intent, a 400 to everything)
 * from a few bad conversations, so that the stage stops and says so instead of dropping
 * the whole corpus as intent_invalid and replacing the dataset with an empty one. It counts
 * settled conversations, not requests: a conversation settled from cached valid answers is
 * good, so a rerun that asks again only for the corpus's truly bad conversations does not trip it.
 */
export class InvalidAnswerGuard {
  private readonly ring: Uint8Array;
  private next = 0;
  private filled = 0;
  private badInWindow = 0;
  good = 0;
  bad = 0;
  last: string | null = null;

  constructor(private readonly o: InvalidAnswerGuardOptions) {
    this.ring = new Uint8Array(Math.max(1, o.window));
  }

  get enabled(): boolean {
    return this.o.maxFraction < 1;
  }

  record(ok: boolean, answer?: string | null): void {
    if (ok) this.good++;
    else {
      this.bad++;
      if (answer !== undefined) this.last = answer;
    }
    const v = ok ? 0 : 1;
    if (this.filled === this.ring.length) this.badInWindow -= this.ring[this.next]!;
    else this.filled++;
    this.ring[this.next] = v;
    this.badInWindow += v;
    this.next = (this.next + 1) % this.ring.length;
  }

  /** Mid-run: a verdict once the window is full and too much of it is bad. */
  check(): GuardVerdict | null {
    if (!this.enabled || this.filled < this.ring.length) return null;
    if (this.badInWindow / this.filled <= this.o.maxFraction) return null;
    return { bad: this.badInWindow, looked: this.filled, last: this.last, rule: 'window' };
  }

  /**
   * Over everything recorded, once at least a window's worth: for a batch round, whose
   * answers all arrive together, so that the order of the corpus does not matter.
   */
  checkAll(): GuardVerdict | null {
    const looked = this.good + this.bad;
    if (!this.enabled || looked < this.ring.length || this.bad / looked <= this.o.maxFraction) return null;
    return { bad: this.bad, looked, last: this.last, rule: 'all' };
  }

  /** At the end, whatever the sample size: no run keeps nothing because the endpoint answered nothing usable. */
  checkAtEnd(kept: number): GuardVerdict | null {
    if (!this.enabled || kept > 0 || this.bad === 0) return null;
    return { bad: this.bad, looked: this.bad + this.good, last: this.last, rule: 'nothing_kept' };
  }
}
