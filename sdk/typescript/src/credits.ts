// Credits on the data plane: a balance group's counter carries its balance's state.
import type { BalanceCounter, Counter } from "./types.js";

/**
 * Whether a counter is a balance group's, with `balance`, `debt` and `soonestExpiry`:
 * `decision.counters.find(isBalanceCounter)?.remaining` is what the user can spend now.
 */
export function isBalanceCounter(counter: Counter): counter is BalanceCounter {
  return typeof counter.balance === "string";
}
