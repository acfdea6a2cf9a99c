// The approval queue: requests an approval group (`"mode": "approval"`) opens on its first
// denial of a user in a period (of each value, for a per-value group), and their decision.
// Reads are retried like every read; approve and decline take no Idempotency-Key on the
// gateway, and a repeat of one that ran is refused as `approval_decided` (409), which would
// hide that the first attempt succeeded: so they are retried only when the request cannot have
// arrived (a refused connection, a 429), like `rotateWebhookSecret`. After a timeout,
// `getApproval` says whether it was decided.
import type { CallOptions } from "./client.js";
import type { Call } from "./http.js";
import type { Approval, ApprovalList, ApprovalStatus } from "./types.js";

type Send = <T>(call: Call) => Promise<T>;
type Per = (opts: CallOptions) => { signal: AbortSignal | undefined; timeoutMs: number | undefined };

/** Which requests `listApprovals` answers; every field may be left out. */
export interface ApprovalQuery {
  status?: ApprovalStatus | undefined;
  userId?: string | undefined;
  /** A page's `nextCursor`, for the page after it. */
  cursor?: string | undefined;
  /** 1 to 500 (default 50). */
  limit?: number | undefined;
}

/** An approval's new quota for the group, for the rest of the request's period or until `expiresAt`. */
export interface ApproveInput {
  quota: number;
  /** When the raised quota ends (default the end of the request's period; never for a lifetime group). */
  expiresAt?: string | Date | undefined;
}

const path = (segment: string) => `/v1/approvals/${encodeURIComponent(segment)}`;

export function approvalMethods(send: Send, per: Per) {
  const once = { replayable: false };

  return {
    /**
     * Approval requests, oldest first (a queue): of one `status` and one user, or all. Pass
     * `cursor: page.nextCursor` for the next page until it is null.
     */
    listApprovals(query: ApprovalQuery = {}, opts: CallOptions = {}): Promise<ApprovalList> {
      const params = new URLSearchParams();
      if (query.status) params.set("status", query.status);
      if (query.userId) params.set("userId", query.userId);
      if (query.cursor) params.set("cursor", query.cursor);
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      const text = params.toString();
      return send({ method: "GET", path: `/v1/approvals${text ? `?${text}` : ""}`, replayable: true, ...per(opts) });
    },

    /** One request (`approval_not_found` for an unknown id or another project's). */
    getApproval(approvalId: string, opts: CallOptions = {}): Promise<Approval> {
      return send({ method: "GET", path: path(approvalId), replayable: true, ...per(opts) });
    },

    /**
     * Approves a pending request: the user's quota of the group becomes `quota` (an override)
     * for the rest of the period or until `expiresAt`. `approval_decided` (409) when it was
     * decided already; `override_limit` (409) when the override would be new and the user
     * already has 1,000. A request whose period ended undecided answers `declined` (reason "its
     * period ended before a decision"), raising nothing. Not retried once it may have arrived.
     */
    approve(approvalId: string, input: ApproveInput, opts: CallOptions = {}): Promise<Approval> {
      const { quota, expiresAt } = input;
      const body = { quota, ...(expiresAt ? { expiresAt: expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt } : {}) };
      return send({ method: "POST", path: `${path(approvalId)}/approve`, body, ...once, ...per(opts) });
    },

    /**
     * Declines a pending request with a reason (1 to 256 bytes): the group stays hard for the
     * rest of the period. `approval_decided` (409) when it was decided already; a request whose
     * period ended undecided answers `declined` with the reason "its period ended before a
     * decision". Not retried once it may have arrived.
     */
    decline(approvalId: string, input: { reason: string }, opts: CallOptions = {}): Promise<Approval> {
      return send({ method: "POST", path: `${path(approvalId)}/decline`, body: { reason: input.reason }, ...once, ...per(opts) });
    },
  };
}
