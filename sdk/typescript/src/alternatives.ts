// A reserve of alternatives: up to 8 events in the order the app prefers them (Model A, then
// Model B). The gateway holds the first that every matched group admits, decided in one step
// at the user's slot, so no other call can take A's last unit between A's denial and B's hold;
// it says which one it held (`chosen`) and why each one before it was denied. Retried, unanswered
// and failed as a reserve is (one Idempotency-Key, the fail mode).
import type { Decide, ReserveOptions } from "./client.js";
import type { Reason } from "./codes.js";
import { type Allowed, type Decision, type Denied, fitFields, toDecision } from "./decision.js";
import type { Counter, Denial, Metadata, ReserveAnswer } from "./types.js";

/** The most alternatives one reserve may name. */
export const MAX_ALTERNATIVES = 8;

/** One alternative of `reserveFirst`: an event, its quantity (default 1) and its metadata. */
export interface Alternative {
  event: string;
  quantity?: number | undefined;
  metadata?: Metadata | undefined;
}

/** An alternative `reserveFirst` passed over: its index and event, and its denial, as a reserve of it alone says it. */
export interface Passed {
  index: number;
  event: string;
  reasons: Reason[];
  deniedBy: string[];
  denials: Denial[];
  counters: Counter[];
}

/**
 * What `reserveFirst` answers: the decision of the alternative held, with its index (`chosen`),
 * or, when none fit, the denial of them all (every one's reasons, groups and counters; `chosen`
 * null). `alternatives` lists each one denied before the chosen one (every one, when none fit).
 * With `failMode: "open"` and no answer from the gateway, the first is "chosen", unchecked.
 */
export type FirstDecision = (Allowed & { chosen: number }) | (Denied & { chosen: null });
export type FirstFit = FirstDecision & { alternatives: Passed[] };

/** The body's `alternatives`, each with its quantity and metadata only when given. */
function alternativesBody(alternatives: readonly Alternative[]): object[] {
  return alternatives.map((a) => ({
    event: a.event,
    ...(a.quantity === undefined ? {} : { quantity: a.quantity }),
    ...(a.metadata ? { metadata: a.metadata } : {}),
  }));
}

/** A decision with what a reserve of alternatives adds to it. */
function toFirstFit(decision: Decision, chosen: number | null | undefined, passed: Passed[]): FirstFit {
  return decision.allowed
    ? { ...decision, chosen: chosen ?? 0, alternatives: passed }
    : { ...decision, chosen: null, alternatives: passed };
}

export function alternativeMethods(decide: Decide) {
  return {
    /**
     * Holds the first of `alternatives` (1 to 8, in the order preferred) that every matched
     * group admits, decided at once in the gateway: `chosen` is its index, `alternatives` why
     * each one before it was denied. Commit or release `reservationId` as a reserve's. Never
     * throws for a gateway that gives no decision (see `failMode`); throws for a bad request
     * (`invalid_request` naming the field, `alternatives[2].event`) and for an abort.
     */
    async reserveFirst(userId: string, alternatives: readonly Alternative[], opts: ReserveOptions = {}): Promise<FirstFit> {
      const body = {
        userId,
        alternatives: alternativesBody(alternatives),
        ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}),
        ...fitFields(opts),
      };
      const decided = await decide<ReserveAnswer>("/v1/reserve", body, opts, opts.ttlSeconds);
      if (!decided.ok) return toFirstFit(decided.decision, 0, []);
      const answer = decided.value;
      // The gateway's reasons are a closed set the document calls a string.
      const passed = (answer.alternatives ?? []) as Passed[];
      return toFirstFit(toDecision(answer, decided.headers), answer.chosen, passed);
    },
  };
}
