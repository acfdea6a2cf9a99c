// Reserves (and runs' starts) that may have run although their answer never came (a timeout,
// a dropped connection, a 5xx, an abort after sending). Such a hold would keep quota until it
// expires. The gateway keeps the first answer of an Idempotency-Key, so sending the same call
// again with the same key and body, once the gateway answers again, reads the reservation (or
// run) it made, or makes one if the first attempt never arrived, which is then released (or
// closed). Bounded: a few at a time, a short attempt each, at most a few tries; a hold past its
// ttl has expired by itself and is forgotten.

// Bounds on memory and on the work one drain does in the background.
const MAX_KEPT = 256;
const PER_DRAIN = 8;
const DRAIN_MS = 2_000;
const MAX_TRIES = 3;

export interface Orphan {
  key: string;
  /** The route it was sent to: `/v1/reserve`, or `/v1/runs` for a run's start. */
  path: string;
  body: unknown;
  since: number;
  ttlMs: number;
  tries: number;
}

/** What a drain does with one orphan: answer whether it is settled (released, or nothing to). */
export type Settle = (orphan: Orphan, timeoutMs: number) => Promise<"settled" | "retry">;

export class PendingReleases {
  private readonly items = new Map<string, Orphan>();
  private draining: Promise<void> | null = null;

  get size(): number {
    return this.items.size;
  }

  add(key: string, path: string, body: unknown, ttlMs: number): void {
    if (this.items.size >= MAX_KEPT) {
      // Map keeps insertion order: the first is the oldest.
      const oldest = this.items.keys().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
    this.items.set(key, { key, path, body, since: Date.now(), ttlMs, tries: 0 });
  }

  /** Starts a drain unless one runs; answers it. Never rejects. */
  drain(settle: Settle): Promise<void> {
    if (this.items.size === 0) return Promise.resolve();
    this.draining ??= this.run(settle).finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async run(settle: Settle): Promise<void> {
    const started = Date.now();
    for (const [key, orphan] of this.items) {
      if (orphan.since + orphan.ttlMs <= Date.now()) this.items.delete(key);
    }
    for (const orphan of [...this.items.values()].slice(0, PER_DRAIN)) {
      const left = DRAIN_MS - (Date.now() - started);
      if (left <= 0) break; // the rest wait for the next answer
      const outcome = await settle(orphan, left).catch(() => "retry" as const);
      if (outcome === "settled" || ++orphan.tries >= MAX_TRIES) this.items.delete(orphan.key);
    }
  }
}
