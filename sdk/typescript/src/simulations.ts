// The pricing lab: a cohort's recorded demand (admitted and denied reserves, tracks,
// adjustments) replayed against a candidate plan and against the plans the users are on, on the
// gateway's own task; read-only, its result kept a day. A start takes no Idempotency-Key and a
// repeat starts a second simulation, which takes one of the node's two slots: so it is retried
// only when the request cannot have arrived (a refused connection, a 429). Reads are retried
// like every read; `simulate` polls until the simulation ends, within its own deadline.
import type { CallOptions } from "./client.js";
import { QuotaGatewayError } from "./errors.js";
import { aborted, type Call, sleep } from "./http.js";
import type { DoneSimulation, PlanDoc, Simulation, SimulationCohort, SimulationProgress } from "./types.js";

type Send = <T>(call: Call) => Promise<T>;
type Per = (opts: CallOptions) => { signal: AbortSignal | undefined; timeoutMs: number | undefined };

/** What `startSimulation` and `simulate` take. */
export interface SimulationInput {
  /** The plan to try: a plan document (its `id` optional), or `{ planId }` naming a stored plan. */
  candidate: PlanDoc | { planId: string };
  /** Whose recorded demand to replay: the users on a plan, or named users (1 to 10,000). */
  cohort: SimulationCohort;
  /** The start of the recorded span (default `to` minus 30 days). */
  from?: string | Date | undefined;
  /** Its end (default now); at most 92 days after `from`. */
  to?: string | Date | undefined;
}

/** How `simulate` waits for the simulation to end. */
export interface SimulateOptions {
  /** Between two reads of the simulation; default 1000. */
  pollMs?: number | undefined;
  /** How long to wait for it to end, the start included; default 10 minutes (the gateway's own cap). */
  timeoutMs?: number | undefined;
  /** Called with its progress on every answer, the last (done or failed) included. */
  onProgress?: ((progress: SimulationProgress, simulation: Simulation) => void) | undefined;
  /** Ends the wait at once with a `QuotaGatewayError` of code `aborted`; the simulation runs on. */
  signal?: AbortSignal | undefined;
}

const SIMULATIONS_PATH = "/v1/simulations";
const DEFAULT_POLL_MS = 1_000;
// The gateway ends a simulation that runs longer as failed (bound "wallTime").
const DEFAULT_SIMULATE_TIMEOUT_MS = 600_000;

const time = (t: string | Date) => (t instanceof Date ? t.toISOString() : t);
const path = (simulationId: string) => `${SIMULATIONS_PATH}/${encodeURIComponent(simulationId)}`;

/** `callTimeoutMs`: the client's deadline of one call, which a poll never runs past `simulate`'s. */
export function simulationMethods(send: Send, per: Per, callTimeoutMs: number) {
  const methods = {
    /**
     * Starts replaying the cohort's recorded demand against the candidate plan; answers at
     * once with the simulation `running` (202). Past a bound, `simulation_bound` (422) with
     * `field` naming it: `range` (over 92 days), `cohort.userIds` or `users` (over 10,000),
     * `entries` (over 1,000,000 ledger entries), `concurrency` (the node runs 2 already). Not
     * retried once it may have arrived.
     */
    startSimulation(input: SimulationInput, opts: CallOptions = {}): Promise<Simulation> {
      const { candidate, cohort, from, to } = input;
      const body = { candidate, cohort, ...(from ? { from: time(from) } : {}), ...(to ? { to: time(to) } : {}) };
      return send({ method: "POST", path: SIMULATIONS_PATH, body, replayable: false, ...per(opts) });
    },

    /** The simulation: its progress, then its report; `simulation_not_found` (404) once a day has passed. */
    simulation(simulationId: string, opts: CallOptions = {}): Promise<Simulation> {
      return send({ method: "GET", path: path(simulationId), replayable: true, ...per(opts) });
    },

    /**
     * The report's per-user rows as CSV (a header line, then a row per user, most affected
     * first); `simulation_running` (409) before it is done, `simulation_failed` (409) when it
     * failed.
     */
    simulationCsv(simulationId: string, opts: CallOptions = {}): Promise<string> {
      return send({ method: "GET", path: path(simulationId), accept: "text/csv", replayable: true, ...per(opts) });
    },

    /**
     * Starts a simulation and reads it every `pollMs` until it is no longer running: answers it
     * done, with its report. Throws `simulation_failed` (`field`: the bound it passed, such as
     * `wallTime`) when it failed, `simulation_timeout` when it still runs at `timeoutMs` (its
     * id in `detail`, to read it later), and the start's errors as `startSimulation` does. A
     * read the gateway does not answer is tried again at the next poll.
     */
    async simulate(input: SimulationInput, opts: SimulateOptions = {}): Promise<DoneSimulation> {
      const { signal, onProgress } = opts;
      const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
      const timeoutMs = opts.timeoutMs ?? DEFAULT_SIMULATE_TIMEOUT_MS;
      if (!(pollMs > 0) || !(timeoutMs > 0)) throw new TypeError("quota-gateway: pollMs and timeoutMs must be positive");
      const deadline = Date.now() + timeoutMs;
      const within = () => ({ signal, timeoutMs: Math.max(1, Math.min(callTimeoutMs, deadline - Date.now())) });
      let simulation = await methods.startSimulation(input, within());
      onProgress?.(simulation.progress, simulation);
      while (simulation.status === "running") {
        const left = deadline - Date.now();
        if (left <= 0) throw timedOut(simulation);
        await sleep(Math.min(pollMs, left), signal);
        if (signal?.aborted) throw aborted(signal);
        if (Date.now() >= deadline) throw timedOut(simulation);
        try {
          simulation = await methods.simulation(simulation.id, within());
        } catch (err) {
          // A simulation outlives a gateway's moment of unavailability: read it again later.
          if (err instanceof QuotaGatewayError && err.unavailable) continue;
          throw err;
        }
        onProgress?.(simulation.progress, simulation);
      }
      return ended(simulation);
    },
  };
  return methods;
}

/** A simulation that ended: the done one, or the error its failure stands for. */
function ended(simulation: Simulation): DoneSimulation {
  if (simulation.status === "done" && simulation.report) return simulation as DoneSimulation;
  const why = simulation.error;
  throw new QuotaGatewayError({
    code: "simulation_failed",
    status: 200,
    detail: `simulation ${simulation.id} failed: ${why?.detail ?? "no reason given"}`,
    field: why?.bound ?? null,
  });
}

function timedOut(simulation: Simulation): QuotaGatewayError {
  const { users, usersDone } = simulation.progress;
  return new QuotaGatewayError({
    code: "simulation_timeout",
    status: 200,
    detail: `simulation ${simulation.id} still running (${usersDone} of ${users} users) at the deadline; read it with simulation(id)`,
  });
}
