// Generated from the gateway's /openapi.json by scripts/types.mjs: do not edit.

export interface paths {
    "/livez": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The process is up */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Health"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics of this node */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Redis is reachable and never evicts */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Health"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Approval requests, oldest first (a queue): each is an approval group's first denial of a user in a period, then its decision
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    status?: string;
                    userId?: string;
                    cursor?: string;
                    limit?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ApprovalList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{approvalId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One approval request
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    approvalId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ApprovalAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code approval_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{approvalId}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Approve a pending request: the user's quota of the group becomes the given one for the rest of the period (or until expiresAt), as an override; audited and told as quota.approval_decided
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    approvalId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ApproveBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ApprovalAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code approval_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code approval_decided, override_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{approvalId}/decline": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Decline a pending request: the group stays hard for the rest of the period; audited and told as quota.approval_decided
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    approvalId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["DeclineBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ApprovalAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code approval_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code approval_decided */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit-log": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every change made by a key or operator of the project (API or dashboard), newest first; with userId a user's, with action one action (user.block) or resource (user), with actorId one key's or operator's
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    userId?: string;
                    action?: string;
                    actorId?: string;
                    cursor?: string;
                    limit?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ChangePage"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/balances/summary": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What the ledger says of credits over a span (every user's, or one's): granted, burned with its revenue by cost basis, voided, expired (breakage) and outstanding, paid and promotional apart
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    balance?: string;
                    userId?: string;
                    from?: string;
                    to?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["CreditSummaryAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/catalog": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The model catalog this node prices by: each model's prices in USD per million tokens (or per image), limits, and where and when they were read
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["CatalogAnswer"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * What reserve would answer, changing nothing
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ReserveBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ReserveAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/operators": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List operators, never their passwords
         * @description The root token.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["OperatorList"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Invite an operator: a person who signs in to the dashboard by email and password, with a role per project; answers the link that sets their password, once
         * @description The root token.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["OperatorBody"];
                };
            };
            responses: {
                /** @description success */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["InvitationAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code operator_exists, operator_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/operators/{operatorId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read an operator
         * @description The root token.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    operatorId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["OperatorAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code operator_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Remove an operator: their sessions end at their next request
         * @description The root token.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    operatorId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code operator_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /**
         * Change an operator's name or roles (roles replace them all; none left removes the operator, answering 204); their sessions follow at their next request
         * @description The root token.
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    operatorId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["OperatorPatchBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["OperatorAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code operator_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        trace?: never;
    };
    "/v1/operators/{operatorId}/invite": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A new invitation link for an operator (the last one stops working): to finish an expired invitation or set a forgotten password
         * @description The root token.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    operatorId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["InvitationAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code operator_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/plans": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List plans (owner: only those where it owns the plan or a group)
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    owner?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PlanList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/plans/{planId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a plan
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    planId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PlanDoc"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /**
         * Create or update a plan
         * @description A project's secret key.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    planId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["PlanDoc"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PlanDoc"];
                    };
                };
                /** @description problem+json with code invalid_plan, invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        post?: never;
        /**
         * Delete a plan no user is on
         * @description A project's secret key.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    planId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_in_use */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/prices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The project's own prices of models, which beat the catalog's
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PriceList"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/prices/{model}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The project's own price of one model
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PriceAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code price_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /**
         * Set the project's own price of a model (a negotiated rate, a fine-tuned or self-hosted model): it beats the catalog's from the next call on, on every node within a second; audited
         * @description A project's secret key.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["PriceDoc"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PriceAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code price_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        post?: never;
        /**
         * Remove the project's own price of a model: the catalog prices it again; audited
         * @description A project's secret key.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code price_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List projects
         * @description The root token.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ProjectList"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Create a project
         * @description The root token.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ProjectBody"];
                };
            };
            responses: {
                /** @description success */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ProjectAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code project_exists */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/projects/{projectId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Change a project's default plan or allowed origins
         * @description The root token.
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ProjectPatch"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ProjectAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code project_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        trace?: never;
    };
    "/v1/projects/{projectId}/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List a project's keys without their secret part
         * @description The root token.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["KeyList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code project_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Mint a key, shown only in this answer
         * @description The root token.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["KeyBody"];
                };
            };
            responses: {
                /** @description success */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["KeyAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code project_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/projects/{projectId}/keys/{keyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke a key on every node within a second
         * @description The root token.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    projectId: string;
                    keyId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code key_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reservations/{reservationId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a reservation
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    reservationId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ReservationAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reservations/{reservationId}/commit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Make the hold usage, exactly once
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path: {
                    reservationId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["CommitBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["CommitAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_released */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused, counter_limit */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reservations/{reservationId}/extend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Move a held reservation's expiry
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    reservationId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ExtendBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ExtendAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_committed, reservation_released */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_expired */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reservations/{reservationId}/outcome": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Say what a committed call's output came to (accepted, rejected, failed or a word of the app's), after its commit; said again it changes nothing, a new word replaces the old
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    reservationId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["OutcomeBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["OutcomeAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_not_committed, outcome_changed_enough */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reservations/{reservationId}/release": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Give the hold back, exactly once
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    reservationId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ReleaseAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code reservation_committed, reservation_released */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reserve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Hold quota before calling the AI provider
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ReserveBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ReserveAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused, counter_limit */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A user's runs (userId is required), newest first (at most 100)
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    userId?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["RunList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Hold an agent run's budget before it starts, as a reserve of its event would; steps name it with runId
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["RunBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["RunStartAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused, counter_limit */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{runId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a run: budget, used and remaining per group, steps, attempts, fallbacks, children
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    runId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["RunAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code run_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{runId}/close": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Commit what the run's steps used, give the rest back (open steps included); repeat-safe
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    runId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["RunAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code run_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code counter_limit */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{runId}/extend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Move an open run's expiry
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    runId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["ExtendBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["RunExtendAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code run_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code run_ended */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/simulations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Replay a cohort's recorded demand, denials included, against a candidate plan and the plans they are on; answers at once, then runs (read-only, kept a day)
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["SimulationBody"];
                };
            };
            responses: {
                /** @description success */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SimulationAnswer"];
                    };
                };
                /** @description problem+json with code invalid_plan, invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code simulation_bound */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/simulations/{simulationId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A simulation's progress, then its report; the per-user rows as CSV with Accept: text/csv
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    simulationId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SimulationAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code simulation_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code simulation_running, simulation_failed */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/track": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Count usage that already happened
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["TrackBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["TrackAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused, counter_limit, unpriced_model */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/usage-events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The usage ledger (one user's, a parent's by memberId, or every user's day by day), oldest first per user; pages (a page may be short and still name nextCursor), or NDJSON or CSV with Accept
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    userId?: string;
                    memberId?: string;
                    from?: string;
                    to?: string;
                    cursor?: string;
                    limit?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UsageEventPageAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/user-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One user's keys (userId is required), without their secret part
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    userId?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UserKeyList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Mint a key for one end user's app to call the provider through the proxy as that user (proxy only; the key is shown once)
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["UserKeyBody"];
                };
            };
            responses: {
                /** @description success */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UserKeyAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code user_key_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/user-keys/{keyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke a user key on every node within a second (on this one at once)
         * @description A project's secret key.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    keyId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code key_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/user-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Mint a token for a browser to read one user's usage
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["UserTokenBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UserToken"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List users by id (cursor, limit, planId, status)
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    cursor?: string;
                    limit?: string;
                    planId?: string;
                    status?: string;
                    parentId?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UserPage"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/adjustments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The user's adjustments, newest first
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["AdjustmentList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Correct a counter (never below zero); with an Idempotency-Key, a repeat answers the first adjustment and applies nothing
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["AdjustmentBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["AdjustmentAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code subscription_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused, counter_limit */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/balances": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every balance of the user (available, held, debt, soonest expiry) with its grants
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["BalanceList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/block": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Deny every event of a user
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["BlockBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/daily-usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The user's daily rollups per group (used, reserves admitted and denied, releases, expiries), every UTC day from..to (dates, both included; the last 30 days by default)
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    from?: string;
                    to?: string;
                };
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DailyUsageAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/grants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every grant of the user, in burn order, with remaining, held, consumed, expired and voided
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    balance?: string;
                };
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["GrantList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Grant credits to a balance (they pay debt first); with an Idempotency-Key (a payment's id), a repeat answers the first grant and grants nothing
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["GrantBody"];
                };
            };
            responses: {
                /** @description success */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["GrantMadeAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code grant_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/grants/{grantId}/void": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End a grant: what it has remaining is voided now, what it holds when given back
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    grantId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["GrantAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code grant_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/overrides/{groupId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Set a per-user quota for one group; with value, for one value of a per-value group (its counter takes it before the group's); the subscription keeps it as <groupId>~<value>; a user keeps at most 1,000 overrides
         * @description A project's secret key.
         */
        put: {
            parameters: {
                query?: {
                    value?: string;
                };
                header?: never;
                path: {
                    userId: string;
                    groupId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["OverrideBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code subscription_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing, override_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        post?: never;
        /**
         * Remove a per-user quota (with value, one value's)
         * @description A project's secret key.
         */
        delete: {
            parameters: {
                query?: {
                    value?: string;
                };
                header?: never;
                path: {
                    userId: string;
                    groupId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code subscription_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/subscription": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a user's subscription
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code subscription_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /**
         * Put a user on a plan (upsert)
         * @description A project's secret key.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["SubscriptionBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        post?: never;
        /**
         * End a subscription; the default plan applies
         * @description A project's secret key.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/unblock": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Lift a block
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubscriptionAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every group of the user's plan in its current period
         * @description A secret key, or a publishable key with the user's X-User-Token.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UsageAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code plan_missing */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        /** CORS preflight for browser reads */
        options: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code origin_not_allowed */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the project's webhook endpoints
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookList"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Make a webhook endpoint (at most 20 per project); its secret (whsec_) is shown only in this answer and its repeats: with an Idempotency-Key, the same key and body within the retention window answer the endpoint made first and make none
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description 1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused */
                    "Idempotency-Key"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["WebhookBody"];
                };
            };
            responses: {
                /** @description success */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code idempotency_key_reused */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a webhook endpoint
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Delete a webhook endpoint
         * @description A project's secret key.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The endpoint's newest deliveries with their attempts
         * @description A project's secret key.
         */
        get: {
            parameters: {
                query?: {
                    limit?: string;
                };
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DeliveryList"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Attempt a delivery again now (refused while its endpoint is disabled)
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                    deliveryId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DeliveryIdAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code delivery_not_found, webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_disabled */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}/disable": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stop delivering to this endpoint; its pending deliveries end as failed
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}/enable": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Deliver to this endpoint again (its failing time starts afresh)
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}/rotate-secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A new secret; each replaced one signs too for 24 hours, at most two beside the current one
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SecretAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code secret_rotation_limit */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{webhookId}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a webhook.test event to this endpoint (refused while it is disabled)
         * @description A project's secret key.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhookId: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["EmptyBody"];
                };
            };
            responses: {
                /** @description success */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DeliveryIdAnswer"];
                    };
                };
                /** @description problem+json with code invalid_request */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unauthorized */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code forbidden */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_not_found */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code webhook_disabled */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code payload_too_large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code unsupported_media_type */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code internal_error */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description problem+json with code backend_unavailable */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AdjustmentAnswer: {
            /** @description What the counter moved by: the request, or less where zero stopped it. */
            applied: components["schemas"]["SignedAmount"];
            counter: components["schemas"]["CounterAnswer"];
        };
        AdjustmentBody: {
            /**
             * Format: double
             * @description Signed units to add; negative refunds.
             */
            amount: number;
            groupId: string;
            reason: string;
        };
        AdjustmentEntry: {
            after: components["schemas"]["Milli"];
            amount: components["schemas"]["SignedAmount"];
            applied: components["schemas"]["SignedAmount"];
            at: string;
            before: components["schemas"]["Milli"];
            groupId: string;
            periodStart?: string | null;
            reason: string;
        };
        AdjustmentList: {
            data: components["schemas"]["AdjustmentEntry"][];
            nextCursor?: string | null;
        };
        /**
         * @description `{"amount": 1000, "rollover": {"max": 500}}`: each period of the group has `amount` credits
         *     that burn before any grant and end with the period; with `rollover`, what is left of them
         *     (at most `max`) carries into the next period only.
         */
        AllowanceDoc: {
            amount: components["schemas"]["Milli"];
            rollover?: null | components["schemas"]["RolloverDoc"];
        };
        /** @description One alternative of a reserve that was denied: its index and event, and why. */
        AlternativeAnswer: {
            counters: components["schemas"]["CounterAnswer"][];
            denials: components["schemas"]["DenialAnswer"][];
            deniedBy: string[];
            event: string;
            index: number;
            reasons: string[];
        };
        /** @description One alternative of a reserve: an event, its quantity (default 1) and its metadata. */
        AlternativeBody: {
            event: string;
            metadata?: {
                [key: string]: unknown;
            } | null;
            quantity?: null | components["schemas"]["Milli"];
        };
        /**
         * @description One approval request: an approval group's first denial of a user in a period, then its
         *     decision.
         */
        ApprovalAnswer: {
            amount: components["schemas"]["Milli"];
            approvalId: string;
            approvedQuota?: null | components["schemas"]["Milli"];
            decidedAt?: string | null;
            /** @description The key or operator that decided, as the audit log names it. */
            decidedBy?: string | null;
            /** @description The denied event and the amount it asked of the group. */
            event: string;
            expiresAt?: string | null;
            groupId: string;
            owner?: string | null;
            /** @description The period it was asked in (null for a lifetime group). */
            periodStart?: string | null;
            /**
             * @description The subject's plan when it asked, who owns the group (its `owner`, else the plan's)
             *     and how often they review it (`day`, `week`, `month`); null when not named.
             */
            planId?: string | null;
            quota: components["schemas"]["Milli"];
            /** @description A decline's reason. */
            reason?: string | null;
            requestedAt: string;
            reserved: components["schemas"]["Milli"];
            resetsAt?: string | null;
            reviewEvery?: string | null;
            /** @description `pending`, `approved` or `declined`. */
            status: string;
            /** @description The counter when it was denied: used, held by open reservations, the quota in force. */
            used: components["schemas"]["Milli"];
            userId: string;
            /** @description A per-value group's value (each value of it has a request of its own); null otherwise. */
            value?: string | null;
        };
        /** @description A page of approval requests, oldest first. */
        ApprovalList: {
            data: components["schemas"]["ApprovalAnswer"][];
            /** @description Where the next page starts (`cursor=`); null on the last page. */
            nextCursor?: string | null;
        };
        /** @description `POST /v1/approvals/{approvalId}/approve`: the group's new quota for the user. */
        ApproveBody: {
            /**
             * @description When the raised quota ends (RFC 3339; default the end of the request's period, never
             *     for a lifetime group).
             */
            expiresAt?: string | null;
            /** @description The quota for the rest of the period (or until `expiresAt`), in the group's unit. */
            quota: components["schemas"]["Milli"];
        };
        /**
         * @description One balance: what can be spent now, what is held, the debt, the soonest expiry, and its
         *     grants in burn order.
         */
        BalanceAnswer: {
            available: components["schemas"]["Sum"];
            balance: string;
            debt: components["schemas"]["Sum"];
            grants: components["schemas"]["GrantAnswer"][];
            held: components["schemas"]["Sum"];
            soonestExpiry?: null | components["schemas"]["SoonestExpiry"];
        };
        BalanceList: {
            data: components["schemas"]["BalanceAnswer"][];
            /** @description Always null: every balance of the user in one page. */
            nextCursor?: string | null;
        };
        /**
         * @description Batch prices as the API and the catalog write them: USD per million tokens of a call made
         *     through the provider's batch API. Kept and shown; no call is priced by them yet.
         */
        BatchDoc: {
            /** Format: double */
            inputPerMillion: number;
            /** Format: double */
            outputPerMillion: number;
        };
        BlockBody: {
            reason: string;
        };
        /** @description `GET /v1/catalog`: the catalog's version and every model in it. */
        CatalogAnswer: {
            models: components["schemas"]["CatalogEntry"][];
            /** @description The catalog's version: the day it was compiled, or the loaded file's. */
            version: string;
        };
        /** @description One model as the catalog file and `GET /v1/catalog` write it. */
        CatalogEntry: {
            aliases?: string[];
            /** @description The day the prices were read (YYYY-MM-DD). */
            asOf: string;
            /**
             * Format: double
             * @description USD per million audio input tokens, where priced apart from the input's.
             */
            audioInputPerMillion?: number | null;
            /**
             * Format: double
             * @description USD per million audio output tokens, where priced apart from the output's.
             */
            audioOutputPerMillion?: number | null;
            batch?: null | components["schemas"]["BatchDoc"];
            /** Format: double */
            cacheWritePerMillion?: number | null;
            /** Format: double */
            cachedInputPerMillion?: number | null;
            /** Format: int64 */
            contextWindow: number;
            /** Format: double */
            inputPerMillion: number;
            longContext?: null | components["schemas"]["LongContextDoc"];
            /** Format: int64 */
            maxOutputTokens: number;
            model: string;
            /** Format: double */
            outputPerMillion: number;
            /** @description USD per image by `"<quality>/<size>"`, where priced so. */
            perImage?: {
                [key: string]: number;
            } | null;
            /**
             * Format: double
             * @description USD per million input characters, where priced so (speech).
             */
            perMillionCharacters?: number | null;
            /**
             * Format: double
             * @description USD per minute of input audio, where priced so.
             */
            perMinute?: number | null;
            perSecond?: null | components["schemas"]["PerSecond"];
            provider: string;
            /** @description The public page they were read from. */
            source: string;
        };
        /** @description One category's credits over the summary's span. */
        CategoryAnswer: {
            /** @description By commits and tracks, and paying debt. */
            burned: components["schemas"]["Sum"];
            /** @description Breakage: what grants had left when they expired. */
            expired: components["schemas"]["Sum"];
            granted: components["schemas"]["Sum"];
            /** @description Granted less burned, voided and expired (deferred revenue for paid credits). */
            outstanding: components["schemas"]["Sum"];
            /** @description Burned times each grant's cost basis, in cents: recognised revenue. */
            revenueCents: components["schemas"]["Sum"];
            voided: components["schemas"]["Sum"];
        };
        /** @description One change of the audit log. */
        ChangeAnswer: {
            /**
             * @description `<resource>.<verb>`: plan.put, plan.delete, subscription.put, subscription.delete,
             *     override.set, override.delete, user.block, user.unblock, usage.adjust, key.mint,
             *     key.revoke, webhook.create, webhook.delete, webhook.rotate, webhook.enable,
             *     webhook.disable, settings.patch.
             */
            action: string;
            /** @description The key's id, or "root". */
            actorId: string;
            actorLabel: string;
            detail: Record<string, never>;
            id: string;
            target: string;
            time: string;
            userId?: string | null;
        };
        ChangeCount: {
            /** Format: int64 */
            decisions: number;
            /** Format: int64 */
            users: number;
        };
        ChangePage: {
            data: components["schemas"]["ChangeAnswer"][];
            nextCursor?: string | null;
        };
        /** @description `POST /v1/runs/{runId}/close`: what the run's output came to, when the caller knows. */
        CloseBody: {
            outcome?: string | null;
        };
        /** @description Whose recorded demand to replay: the users on a plan, or named users (at most 10,000). */
        CohortDoc: {
            planId?: string | null;
            userIds?: string[] | null;
        };
        CommitAnswer: {
            counters: components["schemas"]["CounterAnswer"][];
            late: boolean;
            overQuota: string[];
            reservationId: string;
            status: string;
        };
        CommitBody: {
            metadata?: {
                [key: string]: unknown;
            } | null;
            /** @description What the call's output came to: `accepted`, `rejected`, `failed` or a word of the app's. */
            outcome?: string | null;
            quantity?: null | components["schemas"]["Milli"];
        };
        CounterAnswer: {
            /**
             * @description A balance group's balance (its `remaining` is what can be spent now, its `reserved`
             *     what open reservations hold of it); absent on other groups.
             */
            balance?: string | null;
            costPerAccepted?: null | components["schemas"]["Milli"];
            /** @description `used` + `reserved` + `leased`. */
            count: components["schemas"]["Sum"];
            debt?: null | components["schemas"]["Sum"];
            /** @description Past the quota; for a balance group, in debt. */
            exceeded: boolean;
            fallbackUsed?: null | components["schemas"]["Sum"];
            groupId: string;
            label: string;
            leased?: null | components["schemas"]["Sum"];
            mode: string;
            /**
             * @description In usage: what the period's outputs came to, per outcome said (`accepted`, `rejected`,
             *     `failed`, the app's own words); absent when none was said, and in other answers.
             */
            outcomes?: {
                [key: string]: number;
            };
            periodStart?: string | null;
            quota: components["schemas"]["Milli"];
            /** @description `quota` − `count`, or a balance group's spendable balance. */
            remaining: components["schemas"]["Sum"];
            /** @description What open reservations hold. */
            reserved: components["schemas"]["Sum"];
            resetsAt?: string | null;
            /**
             * Format: int64
             * @description A rolling window's length in seconds (its `periodStart` is its oldest sub-window's
             *     start, `resetsAt` when all it counts now has rolled out); absent on calendar periods.
             */
            rollingSeconds?: number | null;
            soonestExpiry?: null | components["schemas"]["SoonestExpiry"];
            /** @description Whose counter it is: the user the call was about, or a parent whose budget it shares. */
            subjectId: string;
            unit: string;
            used: components["schemas"]["Sum"];
            /**
             * @description A per-value group's counter (`"per"`): the value of the event's metadata it counts;
             *     absent on other groups.
             */
            value?: string | null;
        };
        /** @description Credits an entry moved on one grant (or, with no grant, debt a commit or track left). */
        CreditMoveAnswer: {
            amount: components["schemas"]["Milli"];
            balance: string;
            /** @description paid or promotional; null for an allowance's credits and for debt. */
            category?: string | null;
            costBasis?: null | components["schemas"]["Milli"];
            /** @description Null for debt; an allowance's credits name `~<group>@<period start>`. */
            grantId?: string | null;
            /** @description The balance group that burned (commits and tracks); null for the grant kinds. */
            groupId?: string | null;
        };
        /** @description `GET /v1/balances/summary`: what the ledger says of credits over a span. */
        CreditSummaryAnswer: {
            /** @description Credits the plans' allowances covered. */
            allowanceBurned: components["schemas"]["Sum"];
            /** @description The balance summed; null for every balance. */
            balance?: string | null;
            /** @description Burned beyond every grant, and what later grants paid of it. */
            debtAdded: components["schemas"]["Sum"];
            debtSettled: components["schemas"]["Sum"];
            from?: string | null;
            paid: components["schemas"]["CategoryAnswer"];
            promotional: components["schemas"]["CategoryAnswer"];
            to?: string | null;
            /** @description The span held more entries than one summary reads (200,000): these are the first's. */
            truncated: boolean;
        };
        /** @description A user's daily rollups, every day of the range in order. */
        DailyUsageAnswer: {
            days: components["schemas"]["DayAnswer"][];
            userId: string;
        };
        /** @description One UTC day of a user's activity. */
        DayAnswer: {
            /** @description `2026-11-22`. */
            date: string;
            /** @description The groups with any activity that day (none on a quiet day). */
            groups: components["schemas"]["DayGroupAnswer"][];
        };
        /** @description One group's activity on one day. */
        DayGroupAnswer: {
            costPerAccepted?: null | components["schemas"]["Milli"];
            /**
             * Format: int64
             * @description Holds that expired that day without a commit or release.
             */
            expiries: number;
            groupId: string;
            /**
             * @description The same per model the events named in their metadata (`model`), at most 16 a day
             *     and group (then `other`); absent when none named one.
             */
            models?: components["schemas"]["ModelDayAnswer"][];
            /** @description What the outputs of the day's usage came to, per outcome said; absent when none was. */
            outcomes?: {
                [key: string]: number;
            };
            /** Format: int64 */
            releases: number;
            /**
             * Format: int64
             * @description Reserves admitted (every group of an admitted reserve counts one).
             */
            reservesAdmitted: number;
            /**
             * Format: int64
             * @description Reserves this group denied.
             */
            reservesDenied: number;
            /**
             * @description Usage counted that day, in units: commits, tracks and adjustments (negative when
             *     refunds outweighed them).
             */
            used: components["schemas"]["SignedAmount"];
        };
        /** @description `POST /v1/approvals/{approvalId}/decline`: why. */
        DeclineBody: {
            /**
             * @description 1 to 256 bytes without control characters, kept with the request, in the audit log
             *     and the event.
             */
            reason: string;
        };
        DeliveryAnswer: {
            /** Format: int64 */
            attempts: number;
            createdAt?: string | null;
            /** @description The `webhook-id` every attempt carries. */
            eventId: string;
            id: string;
            /**
             * @description When the next attempt is due, while one is scheduled (a pending delivery); null once
             *     it succeeded or failed for good.
             */
            nextAttemptAt?: string | null;
            /** @description The body as sent. */
            payload: Record<string, never>;
            /** @description pending, succeeded or failed. */
            state: string;
            /** @description The last attempts, oldest first. */
            tries: components["schemas"]["TryAnswer"][];
            type: string;
        };
        DeliveryIdAnswer: {
            deliveryId: string;
        };
        DeliveryList: {
            data: components["schemas"]["DeliveryAnswer"][];
            /** @description Always null: listed whole. */
            nextCursor?: string | null;
        };
        /** @description A group that denied, named with its subject. */
        DenialAnswer: {
            /**
             * @description The pending approval request (`GET /v1/approvals`) of an `approval_pending` denial;
             *     absent on every other denial.
             */
            approvalId?: string | null;
            /**
             * @description The group that would pass its quota; null when the subject denied before any counter
             *     (a blocked parent) or a step's run denied the whole step.
             */
            groupId?: string | null;
            /**
             * @description The model an `unpriced_model` denial found no price for (`PUT /v1/prices/{model}`
             *     sets one); absent on every other denial.
             */
            model?: string | null;
            /**
             * @description Why: `limit_reached` for a group (`insufficient_balance` for a balance group,
             *     `approval_pending` for an approval group whose request waits for a person), else the
             *     level's own reason (`user_blocked`, ...). A step of a run: `run_budget_exhausted` (the
             *     run's budget of the group has no room) or `fallback_budget_exhausted` (a fallback past
             *     its share of it) for a group; for the whole step (no group) `run_ended`,
             *     `run_steps_exhausted`, `action_attempts_exhausted`, `fallback_budget_exhausted` (the
             *     run's fallbacks are used up) or `run_too_deep` (a child run would be a fourth level).
             *     `unpriced_model`: a group priced by the model has no price for the call's (`model`).
             *     `parent_capacity_leased`: a team's group would have room but for what it has leased to
             *     its members' slices, back by `Retry-After`.
             */
            reason: string;
            subjectId: string;
        };
        EmptyBody: Record<string, never>;
        ExtendAnswer: {
            expiresAt: string;
            reservationId: string;
        };
        ExtendBody: {
            /** Format: int64 */
            ttlSeconds: number;
        };
        /** @description A grant with its amounts: amount = remaining + held + consumed + expired + voided. */
        GrantAnswer: {
            amount: components["schemas"]["Milli"];
            balance: string;
            category: string;
            consumed: components["schemas"]["Milli"];
            costBasis?: null | components["schemas"]["Milli"];
            createdAt: string;
            effectiveAt: string;
            expired: components["schemas"]["Milli"];
            expiresAt?: string | null;
            grantId: string;
            held: components["schemas"]["Milli"];
            metadata?: {
                [key: string]: unknown;
            } | null;
            /** Format: int32 */
            priority: number;
            remaining: components["schemas"]["Milli"];
            source?: string | null;
            /** @description `scheduled`, `active`, `depleted`, `expired` or `voided`. */
            status: string;
            voided: components["schemas"]["Milli"];
        };
        /** @description `POST /v1/users/{userId}/grants`: credits added to a balance. */
        GrantBody: {
            /** @description Credits, up to 10^12 with 3 decimals; more than 0. */
            amount: components["schemas"]["Milli"];
            /** @description The balance, `[A-Za-z0-9_.-]{1,64}` (a plan's balance groups name it). */
            balance: string;
            /** @description `paid` (default) or `promotional`. */
            category?: string | null;
            costBasis?: null | components["schemas"]["Milli"];
            /** @description When it starts to count (RFC 3339; default now). */
            effectiveAt?: string | null;
            /** @description When what is left of it expires (RFC 3339; default never). */
            expiresAt?: string | null;
            metadata?: {
                [key: string]: unknown;
            } | null;
            /**
             * Format: int32
             * @description 0 to 100 (default 50): lower burns first.
             */
            priority?: number | null;
            /** @description A label of where it came from (`purchase`, `manual`, ...), 1 to 64 bytes. */
            source?: string | null;
        };
        GrantList: {
            data: components["schemas"]["GrantAnswer"][];
            /** @description Always null: a user has at most a few hundred grants, listed whole. */
            nextCursor?: string | null;
        };
        /** @description A grant made (or, for a repeated Idempotency-Key, the one first made). */
        GrantMadeAnswer: components["schemas"]["GrantAnswer"] & {
            /** @description Debt the grant paid first, out of its amount. */
            debtPaid: components["schemas"]["Milli"];
        };
        /**
         * @description What a clamped reserve granted: its quantity, and its output in whole tokens when the
         *     event named `output_tokens` (the maximum output to ask the provider for).
         */
        GrantedAnswer: {
            /** Format: int64 */
            outputTokens?: number | null;
            /** Format: double */
            quantity: number;
        };
        GroupDoc: {
            /** @description This group's thresholds instead of the plan's; `[]` for none. */
            alerts?: number[] | null;
            allowance?: null | components["schemas"]["AllowanceDoc"];
            /** @description Counts against the subject's grants of this balance instead of a quota per period. */
            balance?: string | null;
            /**
             * @description `"clamp"`: a hold that does not fit whole takes what is left (at least `minFit`), and
             *     the reserve answers the quantity granted; `"whole"` (default) denies it.
             */
            fit?: string | null;
            id: string;
            label?: string | null;
            /**
             * @description A balance group's alerts: amounts whose reaching, from above, sends
             *     `credits.low_balance` (and reaching 0, `credits.depleted`).
             */
            lowBalance?: components["schemas"]["Milli"][] | null;
            matches: components["schemas"]["MatchRule"][];
            maxFallbackSpend?: null | components["schemas"]["Milli"];
            measure?: null | components["schemas"]["MeasureDoc"];
            minFit?: null | components["schemas"]["Milli"];
            mode?: string | null;
            onPlanChange?: string | null;
            overdraft?: null | components["schemas"]["Milli"];
            /** @description This group's owner instead of the plan's. */
            owner?: string | null;
            /** @description A metadata key: one counter per distinct value of it, each with the group's quota. */
            per?: string | null;
            period?: null | components["schemas"]["PeriodDoc"];
            quota?: null | components["schemas"]["Milli"];
            /** @description This group's review instead of the plan's: `day`, `week` or `month`. */
            reviewEvery?: string | null;
            /** @description Required but on a balance group (which counts credits, `count` by default). */
            unit?: string | null;
        };
        GroupPeakAnswer: {
            baseline: components["schemas"]["PercentilesAnswer"];
            candidate: components["schemas"]["PercentilesAnswer"];
            groupId: string;
        };
        Health: {
            reason?: string | null;
            status: string;
        };
        HoldAnswer: {
            /** @description What the reservation holds, in units. */
            amount: components["schemas"]["Milli"];
            committed?: null | components["schemas"]["Milli"];
            groupId: string;
            periodStart?: string | null;
            resetsAt?: string | null;
            /** @description Whose budget the hold is on: the user's, or a parent's. */
            subjectId: string;
        };
        /** @description An invitation: the operator, and the link that sets their password. */
        InvitationAnswer: {
            expiresAt: string;
            /**
             * @description The path (on this gateway) of the page where they choose their password; hand it to
             *     them. Shown only in this answer; it works once, until `expiresAt`.
             */
            invitePath: string;
            operator: components["schemas"]["OperatorAnswer"];
        };
        /** @description An async job submitted through the proxy and not yet settled. */
        JobAnswer: {
            /** Format: int64 */
            ageSeconds: number;
            /** @description When the job's window ends: past it the job is overdue (stuck at the provider). */
            dueAt: string;
            /**
             * @description Its worst case as held, in the proxy's counts (`input_tokens`, `output_tokens`,
             *     `video_seconds`, ...).
             */
            held: {
                [key: string]: number;
            };
            /** @description When its hold expires; the gateway settles it before. */
            holdEndsAt: string;
            /** @description The provider's id of the job. */
            id: string;
            /**
             * @description `batch` (OpenAI), `message_batch` (Anthropic), `video` (OpenAI), `gemini_batch`, or
             *     `realtime_session` (an open realtime session, its `id` the provider's session id).
             */
            kind: string;
            model: string;
            /** @description Still open past its window. */
            overdue: boolean;
            /** @description The hold's reservation. */
            reservationId: string;
            submittedAt: string;
            /** @description The upstream it runs on. */
            upstream: string;
        };
        KeyAnswer: {
            /** @description Shown only in the answer that created it. */
            key: string;
            keyId: string;
            kind: string;
            label: string;
        };
        KeyBody: {
            kind: string;
            label?: string | null;
        };
        /** @description A key as listed: never its secret part. */
        KeyInfo: {
            createdAt: string;
            hint: string;
            keyId: string;
            kind: string;
            label: string;
        };
        KeyList: {
            data: components["schemas"]["KeyInfo"][];
            nextCursor?: string | null;
        };
        /** @description One alternative of a reserve, as its ledger entry keeps it. */
        LedgerAlternativeAnswer: {
            /**
             * @description Why it was denied (empty for the chosen one and those after it): each group that
             *     denied it (null for a denial of no group) and the reason, as a reserve's `denials` say.
             */
            denials: components["schemas"]["LedgerDenialAnswer"][];
            event: string;
            metadata?: Record<string, never> | null;
            quantity: components["schemas"]["Milli"];
        };
        LedgerDenialAnswer: {
            groupId?: string | null;
            reason: string;
        };
        /** @description A long-context tier as the API, the catalog and the records write it: USD per million tokens. */
        LongContextDoc: {
            /**
             * Format: double
             * @description USD per million cache-write tokens of such a call; the tier's input price when left out.
             */
            cacheWritePerMillion?: number | null;
            /**
             * Format: double
             * @description USD per million cached input tokens of such a call; the tier's input price when left out.
             */
            cachedInputPerMillion?: number | null;
            /**
             * Format: double
             * @description USD per million input tokens of such a call.
             */
            inputPerMillion: number;
            /**
             * Format: double
             * @description USD per million output tokens of such a call.
             */
            outputPerMillion: number;
            /**
             * Format: int64
             * @description The tier prices a call whose input tokens (cached and cache-write ones included) are
             *     more than this many: 200000 for "over 200k tokens". A whole number, 1 to 100,000,000.
             */
            overInputTokens: number;
        };
        /**
         * @description `{ "event": "image.*", "metadata": { "variant": ["1k", "2k"] } }`, with its own
         *     `measure` when the first rule that matches prices the event apart (`{"rate": 10}`).
         */
        MatchRule: {
            event: string;
            measure?: null | components["schemas"]["MeasureDoc"];
            metadata?: {
                [key: string]: unknown;
            };
        };
        /**
         * @description The measure as written in a plan, on a group or on one of its match rules: exactly one of
         *     the three fields.
         */
        MeasureDoc: {
            /**
             * Format: double
             * @description With `price` on a balance group: credits per US dollar.
             */
            creditsPerDollar?: number | null;
            /**
             * Format: double
             * @description With `price`: the price times this (at most 6 decimals, default 1).
             */
            markup?: number | null;
            metadata?: string | null;
            /**
             * @description Prices the call by its model: `"catalog"` (the project's override, else the catalog),
             *     or `"provider"` (the provider's reported `cost` when the commit has one, else as
             *     `catalog`). On a cents group, or a balance group with `creditsPerDollar`.
             */
            price?: string | null;
            /**
             * Format: double
             * @description The quantity times this rate (at most 6 decimals): `{"rate": 10}`.
             */
            rate?: number | null;
            /**
             * @description With `price`: `"allow"` lets a model with no price through at zero (visibly, in the
             *     ledger); by default such a call is denied with `unpriced_model`.
             */
            unpriced?: string | null;
            weights?: {
                [key: string]: unknown;
            } | null;
        };
        /** @description an amount in units, at most 3 decimals, exact */
        Milli: number;
        /** @description One model's part of a group's day. */
        ModelDayAnswer: {
            /** Format: int64 */
            accepted: number;
            costPerAccepted?: null | components["schemas"]["Milli"];
            model: string;
            used: components["schemas"]["SignedAmount"];
        };
        /** @description An operator as answered: never their password. */
        OperatorAnswer: {
            createdAt: string;
            email: string;
            /** @description `op_…`: what the audit log names as the actor. */
            id: string;
            /** @description Who invited them: `root`, or an operator's or key's id. */
            invitedBy: string;
            name: string;
            roles: {
                [key: string]: string;
            };
            /** @description `invited` until they set a password, then `active`. */
            status: string;
        };
        OperatorBody: {
            /** @description Their address, which they sign in with (compared lower-cased). */
            email: string;
            /** @description How pages and the audit log name them. */
            name: string;
            /** @description Project id -> `owner`, `admin`, `support` or `viewer`. */
            roles: {
                [key: string]: string;
            };
        };
        OperatorList: {
            data: components["schemas"]["OperatorAnswer"][];
            nextCursor?: string | null;
        };
        /**
         * @description PATCH: an absent field stays; `roles` replaces them all (an empty object removes the
         *     operator).
         */
        OperatorPatchBody: {
            name?: string | null;
            roles?: {
                [key: string]: string;
            } | null;
        };
        /** @description The answer of `POST /v1/reservations/{id}/outcome`. */
        OutcomeAnswer: {
            outcome: string;
            /** @description The outcome said before, which this one replaced; null when none was. */
            previous?: string | null;
            reservationId: string;
        };
        /** @description `POST /v1/reservations/{id}/outcome`: what a committed call's output came to, said after. */
        OutcomeBody: {
            outcome: string;
        };
        OverrideAnswer: {
            expiresAt?: string | null;
            quota: components["schemas"]["Milli"];
        };
        OverrideBody: {
            expiresAt?: string | null;
            quota: components["schemas"]["Milli"];
        };
        /** @description One ancestor's usage, under a member's. */
        ParentUsageAnswer: {
            counters: components["schemas"]["CounterAnswer"][];
            period?: null | components["schemas"]["PeriodAnswer"];
            planId?: string | null;
            status: string;
            subjectId: string;
        };
        /**
         * @description `perSecond` as the API writes it: one price, or a video model's prices by the video's size.
         *     (The document's shape; the field is read as `Value` and checked by `to_price`.)
         */
        PerSecond: number | {
            [key: string]: number;
        };
        /** @description Shares of a quota (1 is 100 %) at which the users' peaks stand. */
        PercentilesAnswer: {
            /** Format: double */
            max: number;
            /** Format: double */
            p50: number;
            /** Format: double */
            p90: number;
            /** Format: double */
            p99: number;
        };
        /** @description A plan's default period; both ends are null for a lifetime plan, which has no window. */
        PeriodAnswer: {
            end?: string | null;
            start?: string | null;
        };
        PeriodDoc: {
            anchor?: string | null;
            /** Format: int32 */
            every?: number | null;
            /**
             * Format: int32
             * @description A `rolling` period's length: at most the quota in any span of this many seconds
             *     ending now (1 to 86,400).
             */
            seconds?: number | null;
            type?: string | null;
        };
        /** @description The plan document, as written by users and as stored (with `version`). */
        PlanDoc: {
            /** @description Percents of quota whose crossing sends `quota.threshold_crossed` (default [80, 100]). */
            alerts?: number[] | null;
            groups: components["schemas"]["GroupDoc"][];
            id?: string | null;
            name?: string | null;
            /**
             * @description Who answers for the plan's budgets (a team or a person, free text): every alert and
             *     approval request of its groups carries it, unless a group names its own.
             */
            owner?: string | null;
            periodAnchor?: string | null;
            periodType?: string | null;
            /** @description How often its owner reviews the plan: `day`, `week` or `month`. */
            reviewEvery?: string | null;
            unmatched?: string | null;
            /**
             * Format: int64
             * @description Set by the store; ignored in a request body so a fetched plan can be pasted back.
             */
            version?: number | null;
        };
        /**
         * @description Lists answered whole, in the envelope every list shares: `{data, nextCursor}`, the cursor
         *     always null here.
         */
        PlanList: {
            data: components["schemas"]["PlanDoc"][];
            nextCursor?: string | null;
        };
        /**
         * @description A price the project set for a model: its fields as `PriceDoc` has them (written out here,
         *     not flattened: a document that refuses unknown fields cannot be part of a larger one).
         */
        PriceAnswer: {
            /** Format: double */
            audioInputPerMillion?: number | null;
            /** Format: double */
            audioOutputPerMillion?: number | null;
            batch?: null | components["schemas"]["BatchDoc"];
            /** Format: double */
            cacheWritePerMillion?: number | null;
            /** Format: double */
            cachedInputPerMillion?: number | null;
            catalog?: null | components["schemas"]["PriceDoc"];
            /** Format: double */
            inputPerMillion: number;
            longContext?: null | components["schemas"]["LongContextDoc"];
            model: string;
            /** Format: double */
            outputPerMillion: number;
            perImage?: {
                [key: string]: number;
            } | null;
            /** Format: double */
            perMillionCharacters?: number | null;
            /** Format: double */
            perMinute?: number | null;
            perSecond?: null | components["schemas"]["PerSecond"];
            updatedAt: string;
        };
        /** @description Prices as the API, the catalog and the records write them: USD as decimals. */
        PriceDoc: {
            /**
             * Format: double
             * @description USD per million audio input tokens (within the input tokens), where priced apart.
             */
            audioInputPerMillion?: number | null;
            /**
             * Format: double
             * @description USD per million audio output tokens (within the output tokens), where priced apart.
             */
            audioOutputPerMillion?: number | null;
            batch?: null | components["schemas"]["BatchDoc"];
            /** Format: double */
            cacheWritePerMillion?: number | null;
            /** Format: double */
            cachedInputPerMillion?: number | null;
            /**
             * Format: double
             * @description USD per million input tokens (cached and cache-write tokens included unless priced apart).
             */
            inputPerMillion: number;
            longContext?: null | components["schemas"]["LongContextDoc"];
            /** Format: double */
            outputPerMillion: number;
            /** @description USD per image by `"<quality>/<size>"` (`"standard/1024x1024"`), where priced so. */
            perImage?: {
                [key: string]: number;
            } | null;
            /**
             * Format: double
             * @description USD per million input characters (`input_characters`, a speech call's text).
             */
            perMillionCharacters?: number | null;
            /**
             * Format: double
             * @description USD per minute of input audio; at most one of `perSecond` and `perMinute`.
             */
            perMinute?: number | null;
            perSecond?: null | components["schemas"]["PerSecond"];
        };
        /** @description `GET /v1/prices`: every price the project set, by model name. */
        PriceList: {
            data: components["schemas"]["PriceAnswer"][];
            /** @description Always null: a project has at most 1,000 prices, all in one page. */
            nextCursor?: string | null;
        };
        /** @description Where a priced group's amount came from. */
        PriceSourceAnswer: {
            /** @description The catalog's version, for a catalog price. */
            catalogVersion?: string | null;
            model: string;
            /**
             * @description `override` (the project's own price), `catalog`, `provider` (the provider's reported
             *     cost) or `unpriced` (no price, counted at zero where the group allows it).
             */
            source: string;
        };
        /** @description RFC 9457 problem details, as every error answers. */
        Problem: {
            /** @description A stable snake_case code. */
            code: string;
            detail: string;
            /** @description The field at fault, for `invalid_request`. */
            field?: string | null;
            /** @description Every problem of an `invalid_plan`. */
            problems?: Record<string, never>[] | null;
            requestId: string;
            /** Format: int32 */
            status: number;
            title: string;
            type: string;
        };
        ProjectAnswer: {
            allowedOrigins: string[];
            defaultPlan?: string | null;
            id: string;
            /** @description Whether the project keeps a usage ledger. */
            ledger: boolean;
            /** @description Whether a proxied call's trace names its end user (`enduser.id`). */
            traceUsers: boolean;
        };
        ProjectBody: {
            allowedOrigins?: string[] | null;
            defaultPlan?: string | null;
            id: string;
            /** @description Keep a usage ledger (default true). */
            ledger?: boolean | null;
            /** @description Name the end user in a proxied call's trace (`enduser.id`; default false). */
            traceUsers?: boolean | null;
        };
        ProjectList: {
            data: components["schemas"]["ProjectAnswer"][];
            nextCursor?: string | null;
        };
        /** @description PATCH: an absent field stays, `null` clears it. */
        ProjectPatch: {
            allowedOrigins?: string[] | null;
            defaultPlan?: string | null;
            ledger?: boolean | null;
            traceUsers?: boolean | null;
        };
        ReleaseAnswer: {
            counters: components["schemas"]["CounterAnswer"][];
            reservationId: string;
            status: string;
        };
        ReportAnswer: {
            baseline: components["schemas"]["TotalsAnswer"];
            candidate: components["schemas"]["TotalsAnswer"];
            centsDifference: components["schemas"]["SignedAmount"];
            /** @description Credits burned under the candidate minus under the baseline. */
            creditsDifference: components["schemas"]["SignedAmount"];
            /** Format: int64 */
            entries: number;
            /**
             * Format: double
             * @description The share of recorded decisions the baseline replay reproduced (1 when none).
             */
            fidelity: number;
            newlyAdmitted: components["schemas"]["ChangeCount"];
            newlyDenied: components["schemas"]["ChangeCount"];
            peakShare: components["schemas"]["GroupPeakAnswer"][];
            /** Format: int64 */
            recordedDecisions: number;
            /** Format: int64 */
            reproducedDecisions: number;
            /** @description Most affected first: newly denied, then newly admitted, then by id. */
            rows: components["schemas"]["UserRowAnswer"][];
            /** Format: int64 */
            users: number;
        };
        ReservationAnswer: {
            event: string;
            expiresAt: string;
            holds: components["schemas"]["HoldAnswer"][];
            /** @description The event's metadata as reserved; null when it had none. */
            metadata?: Record<string, never> | null;
            quantity?: null | components["schemas"]["Milli"];
            reservationId: string;
            status: string;
            userId: string;
        };
        ReserveAnswer: {
            allowed: boolean;
            /**
             * @description A reserve of `alternatives`: each one denied before the chosen one (every one, when
             *     none fit), in the order asked, with its denial as a reserve of it alone says it.
             */
            alternatives?: components["schemas"]["AlternativeAnswer"][] | null;
            /**
             * @description A reserve of `alternatives`: the index of the one held (absent when none fit; the
             *     answer is then the denial of them all, every alternative's reasons, groups and
             *     counters).
             */
            chosen?: number | null;
            counters: components["schemas"]["CounterAnswer"][];
            denials: components["schemas"]["DenialAnswer"][];
            /** @description Ids of the groups that denied (of any level: `denials` names each with its subject). */
            deniedBy: string[];
            expiresAt?: string | null;
            granted?: null | components["schemas"]["GrantedAnswer"];
            reasons: string[];
            reservationId?: string | null;
            run?: null | components["schemas"]["StepRunAnswer"];
        };
        /** @description `POST /v1/reserve` and `/v1/check`. */
        ReserveBody: {
            /**
             * @description The original action the step is an attempt of, counted against the run's
             *     `attemptsPerAction`; only with `runId`.
             */
            actionId?: string | null;
            /**
             * @description In place of `event` (not for `/v1/check`): 1 to 8 events in the order preferred, of
             *     which the first that every matched group admits is held, decided at once; the answer's
             *     `chosen` says which.
             */
            alternatives?: components["schemas"]["AlternativeBody"][] | null;
            /** @description The event to hold quota for; a reserve may name `alternatives` instead. */
            event?: string | null;
            /**
             * @description `clamp`: a hold that does not fit whole takes what is left of its group (every hard
             *     group of the call may), and the answer's `granted` says what the call was granted;
             *     `whole`: no group clamps. Absent: each group's own `fit`.
             */
            fit?: string | null;
            /** @description What the step is to its action; only with `runId`. Default `primary`. */
            kind?: string | null;
            metadata?: {
                [key: string]: unknown;
            } | null;
            minFit?: null | components["schemas"]["Milli"];
            quantity?: null | components["schemas"]["Milli"];
            /**
             * @description Makes the reserve a step of this run (`POST /v1/runs`): groups the run holds draw from
             *     its budget. Not for `/v1/check`.
             */
            runId?: string | null;
            /** Format: int64 */
            ttlSeconds?: number | null;
            userId: string;
        };
        RolloverDoc: {
            max: components["schemas"]["Milli"];
        };
        /** @description A run: its budget per group, its steps and attempts, its children, its state. */
        RunAnswer: {
            /** @description Steps per `actionId`. */
            attempts: {
                [key: string]: number;
            };
            children: string[];
            createdAt?: string | null;
            endedAt?: string | null;
            event: string;
            expiresAt: string;
            /** Format: int64 */
            fallbacks: number;
            groups: components["schemas"]["RunGroupAnswer"][];
            limits: components["schemas"]["RunLimitsDoc"];
            /** @description The run it was carved from, for a child run. */
            parentRunId?: string | null;
            runId: string;
            /** @description `open`, `closed` or `expired` (it closed itself at its expiry). */
            state: string;
            /** Format: int64 */
            steps: number;
            userId: string;
        };
        /** @description `POST /v1/runs`. */
        RunBody: {
            /** @description The event whose matched groups the run holds, as a reserve of it would. */
            event: string;
            limits?: null | components["schemas"]["RunLimitsDoc"];
            metadata?: {
                [key: string]: unknown;
            } | null;
            /** @description A run of the same user whose remaining budget this child run is carved from. */
            parentRunId?: string | null;
            quantity?: null | components["schemas"]["Milli"];
            /**
             * Format: int64
             * @description Default 900.
             */
            ttlSeconds?: number | null;
            userId: string;
        };
        /** @description `POST /v1/runs/{runId}/extend`'s answer. */
        RunExtendAnswer: {
            expiresAt: string;
            runId: string;
        };
        /** @description One group a run holds: its budget and what became of it. */
        RunGroupAnswer: {
            /** @description What the run holds in the group. */
            budget: components["schemas"]["Milli"];
            /** @description What its fallback steps hold or spent. */
            fallbackSpent: components["schemas"]["Milli"];
            groupId: string;
            /** @description What its open steps hold. */
            open: components["schemas"]["Milli"];
            /** @description budget - used - open, never below 0. */
            remaining: components["schemas"]["Milli"];
            unit: string;
            /** @description What its steps committed or tracked. */
            used: components["schemas"]["Milli"];
        };
        /** @description A run's limits; each absent (or null) is no limit. */
        RunLimitsDoc: {
            /**
             * Format: int64
             * @description At most this many steps with the same `actionId`.
             */
            attemptsPerAction?: number | null;
            /**
             * Format: double
             * @description Fallback steps spend at most this share (0 to 1) of each group's budget.
             */
            fallbackShare?: number | null;
            /**
             * Format: int64
             * @description At most this many steps of kind `fallback`.
             */
            fallbacks?: number | null;
            /**
             * Format: double
             * @description The attempts after the first of one action (a routed proxy call's next targets) hold
             *     and spend at most this much together in each group the run holds, in the group's unit;
             *     past it the next attempt is denied `fallback_budget_exhausted`.
             */
            maxFallbackSpend?: number | null;
            /**
             * Format: int64
             * @description At most this many step reserves and tracks.
             */
            steps?: number | null;
        };
        /** @description `GET /v1/runs?userId=`: the user's runs, newest first. */
        RunList: {
            data: components["schemas"]["RunAnswer"][];
            /** @description Always null: the newest runs the records keep, at most 100. */
            nextCursor?: string | null;
        };
        /** @description `POST /v1/runs`'s answer: a reserve's, with the run's id. */
        RunStartAnswer: {
            allowed: boolean;
            counters: components["schemas"]["CounterAnswer"][];
            denials: components["schemas"]["DenialAnswer"][];
            deniedBy: string[];
            expiresAt?: string | null;
            reasons: string[];
            /** @description Null when denied: no run exists then. */
            runId?: string | null;
        };
        SecretAnswer: {
            /** @description The new secret; the previous one signs too for 24 hours. */
            secret: string;
        };
        /** @description a signed amount in units, at most 3 decimals */
        SignedAmount: number;
        /** @description A simulation: progress while it runs, then its report (kept a day). */
        SimulationAnswer: {
            candidate?: null | components["schemas"]["PlanDoc"];
            /** @description The candidate document's id, or `candidate` when it had none. */
            candidatePlanId: string;
            cohort: components["schemas"]["CohortDoc"];
            createdAt: string;
            error?: null | components["schemas"]["SimulationError"];
            finishedAt?: string | null;
            from: string;
            id: string;
            progress: components["schemas"]["SimulationProgress"];
            report?: null | components["schemas"]["ReportAnswer"];
            status: components["schemas"]["SimulationStatusAnswer"];
            to: string;
        };
        /** @description `POST /v1/simulations`. */
        SimulationBody: {
            /**
             * @description The plan to try: a plan document as `PUT /v1/plans/{planId}` takes (its `id` optional),
             *     or `{"planId": "..."}` naming a stored plan.
             */
            candidate: Record<string, never>;
            cohort: components["schemas"]["CohortDoc"];
            /** @description RFC 3339; default: `to` minus 30 days. */
            from?: string | null;
            /** @description RFC 3339; default: now. At most 92 days after `from`. */
            to?: string | null;
        };
        /** @description Why a simulation failed: the bound it passed (`wallTime`), or null for a failure to read. */
        SimulationError: {
            bound?: string | null;
            detail: string;
        };
        SimulationProgress: {
            /**
             * Format: int64
             * @description Ledger entries read so far.
             */
            entries: number;
            /** Format: int64 */
            users: number;
            /** Format: int64 */
            usersDone: number;
        };
        /**
         * @description Where a simulation stands.
         * @enum {string}
         */
        SimulationStatusAnswer: "running" | "done" | "failed";
        SoonestExpiry: {
            amount: components["schemas"]["Sum"];
            at: string;
        };
        /** @description What a step's answer says of its run, so an agent can wrap up before it is cut off. */
        StepRunAnswer: {
            /** Format: int64 */
            fallbacks: number;
            /** @description Per group the run holds, what it has left, in the group's unit. */
            remaining: {
                [key: string]: number;
            };
            runId: string;
            /**
             * Format: int64
             * @description Steps so far, this one included when it was admitted.
             */
            steps: number;
        };
        SubscriptionAnswer: {
            overrides: {
                [key: string]: components["schemas"]["OverrideAnswer"];
            };
            /** @description The subject whose budget this one draws from as well; null for none. */
            parentId?: string | null;
            /** @description Null when the user has no plan of their own (the default plan applies). */
            planId?: string | null;
            reason?: string | null;
            startedAt?: string | null;
            status: string;
            userId: string;
        };
        SubscriptionBody: {
            overrides?: {
                [key: string]: components["schemas"]["OverrideBody"];
            } | null;
            /** @description Absent keeps the parent, null removes it, an id sets it. */
            parentId?: string | null;
            planId: string;
            /**
             * @description RFC 3339, the anchor of `subscription_start` periods; not in the future (a start up to
             *     5 s ahead of the gateway's clock is taken, callers' clocks differing, and what is decided
             *     before it counts in the first period). Absent: a new subscription starts now, an
             *     existing one keeps its start.
             */
            startedAt?: string | null;
        };
        /** @description an amount in units that sums others, at most 3 decimals, exact */
        Sum: number;
        /** @description What one plan did with the cohort's demand. */
        TotalsAnswer: {
            /** Format: int64 */
            admitted: number;
            /** @description Counted by groups of unit cents. */
            cents: components["schemas"]["Milli"];
            /** @description Credits burned by balance groups. */
            credits: components["schemas"]["Milli"];
            /** @description Per threshold ("50", "80", "100" % of a group's quota), the users whose peak reached it. */
            crossed: {
                [key: string]: number;
            };
            /** Format: int64 */
            denied: number;
            /**
             * Format: int64
             * @description Denials it admitted, counted at their requested quantity (an estimate).
             */
            estimated: number;
        };
        TrackAnswer: {
            counters: components["schemas"]["CounterAnswer"][];
            overQuota: string[];
            run?: null | components["schemas"]["StepRunAnswer"];
        };
        /** @description `POST /v1/track`: no ttl, the usage already happened. */
        TrackBody: {
            /** @description As for reserve; only with `runId`. */
            actionId?: string | null;
            event: string;
            /** @description As for reserve; only with `runId`. */
            kind?: string | null;
            metadata?: {
                [key: string]: unknown;
            } | null;
            /** @description What the call's output came to: `accepted`, `rejected`, `failed` or a word of the app's. */
            outcome?: string | null;
            quantity?: null | components["schemas"]["Milli"];
            /** @description Makes the track a step of this run: groups the run holds count in it while it is open. */
            runId?: string | null;
            userId: string;
        };
        TryAnswer: {
            at?: string | null;
            error: string;
            /**
             * Format: int32
             * @description The receiver's HTTP status; null when there was none (timeout, refused).
             */
            status?: number | null;
        };
        UsageAnswer: {
            counters: components["schemas"]["CounterAnswer"][];
            /**
             * @description The user's open async jobs (batches, videos) submitted through the proxy, oldest
             *     first: each holds its worst case until the provider says it ended.
             */
            jobs: components["schemas"]["JobAnswer"][];
            /** @description The subject whose budget this one shares; null for none. */
            parentId?: string | null;
            /** @description Each ancestor's usage (the pools the user draws from), nearest first. */
            parents: components["schemas"]["ParentUsageAnswer"][];
            period?: null | components["schemas"]["PeriodAnswer"];
            planId?: string | null;
            status: string;
            userId: string;
        };
        /** @description One entry of the usage ledger. */
        UsageEventAnswer: {
            actionId?: string | null;
            /**
             * @description A reserve of alternatives: every one it asked, in order, with why each weighed before the
             *     chosen one was denied (a commit's, release's or expiry's), or every one's denial (a
             *     denied entry's: none fit; its own event is the last weighed). Absent for a reserve of
             *     one event.
             */
            alternatives?: components["schemas"]["LedgerAlternativeAnswer"][];
            /**
             * @description True for the kinds that changed usage (commit, late_commit, track, adjustment): sum only
             *     these entries' groups or quantity to bill usage. The other kinds' `quantity` is what was
             *     asked for or held (denied, release, expiry) or none.
             */
            changesUsage: boolean;
            /** @description The index of the alternative held (absent on a denial of them all). */
            chosen?: number | null;
            /**
             * @description Credits it moved: what balance groups burned from which grants, and debt; what a grant
             *     entry granted, voided or expired. Absent when none.
             */
            credits?: components["schemas"]["CreditMoveAnswer"][];
            /**
             * @description The instant the gateway decided the call at, which chose its windows (a commit's,
             *     release's or expiry's: its reserve's); absent on entries written before it was kept.
             */
            decidedAt?: string | null;
            /** @description A denied entry's groups that denied it (absent on other entries). */
            deniedBy?: string[];
            event?: string | null;
            groups: components["schemas"]["UsageGroupAnswer"][];
            /**
             * @description The hold an entry ends (commit, late_commit, release, expiry): when it was reserved
             *     (absent on other entries, and on entries written before it was kept).
             */
            heldSince?: string | null;
            /**
             * @description An expiry's instant: when the hold went back (the entry's `time` is when the gateway
             *     noticed).
             */
            heldUntil?: string | null;
            /** @description Stable: the same entry has the same id in every read and export. */
            id: string;
            /** @description The id of the key that made the call (null in entries written before it was kept). */
            keyId?: string | null;
            /**
             * @description commit, late_commit, track, adjustment; for credits grant, grant_void, grant_expired
             *     (breakage) and debt_settled; run_close for a run's close (its steps' entries counted
             *     its usage; it carries the credits its balance groups burned); and, with no usage,
             *     denied (a reserve refused: the first 100 of a user's UTC day), release and expiry (a
             *     hold's end), which the pricing lab replays; outcome (what a committed call's output
             *     came to, said after its commit).
             */
            kind: string;
            /**
             * @description In a parent's ledger, the member whose event it was (the entry has the member's entry's
             *     id); null in a member's own.
             */
            memberId?: string | null;
            metadata?: Record<string, never> | null;
            /**
             * @description What the call's output came to, when it was said (`accepted`, `rejected`, `failed` or
             *     the app's word); on an `outcome` entry, said after the commit, with the `previousOutcome`
             *     it replaced. Absent when none was said.
             */
            outcome?: string | null;
            previousOutcome?: string | null;
            quantity?: null | components["schemas"]["Milli"];
            /** @description Adjustments: the reason given. */
            reason?: string | null;
            reserved?: null | components["schemas"]["Milli"];
            /**
             * @description A step's run (a child run's close: its parent run), the action it was an attempt of
             *     (null for none) and its kind (`primary`, `retry`, `fallback`); null for other entries.
             */
            runId?: string | null;
            stepKind?: string | null;
            time: string;
            userId: string;
        };
        UsageEventPageAnswer: {
            data: components["schemas"]["UsageEventAnswer"][];
            nextCursor?: string | null;
        };
        /** @description One group's part of a usage change, in units (negative when an adjustment took usage back). */
        UsageGroupAnswer: {
            amount: components["schemas"]["SignedAmount"];
            groupId: string;
            /** @description Null for lifetime groups. */
            periodStart?: string | null;
            price?: null | components["schemas"]["PriceSourceAnswer"];
            /** @description count, tokens, seconds or cents. */
            unit: string;
            /** @description A per-value group's value (absent on other groups). */
            value?: string | null;
        };
        UserAnswer: {
            parentId?: string | null;
            planId?: string | null;
            status: string;
            userId: string;
        };
        /** @description A user key as listed (and as minted, with `key`): proxy-only, one user's. */
        UserKeyAnswer: {
            createdAt: string;
            expiresAt?: string | null;
            /** @description The key's prefix and last four characters. */
            hint: string;
            id: string;
            /** @description Shown only in the answer that created it. */
            key?: string | null;
            label: string;
            userId: string;
        };
        UserKeyBody: {
            /** @description When the key stops working (RFC 3339); never when absent. */
            expiresAt?: string | null;
            label?: string | null;
            userId: string;
        };
        UserKeyList: {
            data: components["schemas"]["UserKeyAnswer"][];
            nextCursor?: string | null;
        };
        UserPage: {
            data: components["schemas"]["UserAnswer"][];
            nextCursor?: string | null;
        };
        UserRowAnswer: {
            baseline: components["schemas"]["UserScenarioAnswer"];
            candidate: components["schemas"]["UserScenarioAnswer"];
            /** Format: int64 */
            newlyAdmitted: number;
            /** Format: int64 */
            newlyDenied: number;
            /**
             * Format: int64
             * @description Decisions the ledger recorded (admitted holds and denials), and those the baseline
             *     decided alike.
             */
            recorded: number;
            /** Format: int64 */
            reproduced: number;
            userId: string;
        };
        /** @description What one plan did with one user's demand. */
        UserScenarioAnswer: {
            /** Format: int64 */
            admitted: number;
            cents: components["schemas"]["Milli"];
            credits: components["schemas"]["Milli"];
            /** @description The thresholds (50, 80, 100 %) the user's peak share reached. */
            crossed: number[];
            /** Format: int64 */
            denied: number;
            /** Format: int64 */
            estimated: number;
            /** @description Per group, the highest share of its quota the user reached (1 is 100 %). */
            peakShare: {
                [key: string]: number;
            };
        };
        UserToken: {
            expiresAt: string;
            token: string;
        };
        UserTokenBody: {
            /** Format: int64 */
            ttlSeconds?: number | null;
            userId: string;
        };
        /** @description An endpoint; `secret` only in the answers that made or rotated it. */
        WebhookAnswer: {
            createdAt?: string | null;
            description: string;
            /** @description Why it was disabled (410 Gone, or 5 days of failures). */
            disabledReason?: string | null;
            enabled: boolean;
            events: string[];
            id: string;
            secret?: string | null;
            url: string;
        };
        WebhookBody: {
            description?: string | null;
            /**
             * @description quota.threshold_crossed, quota.limit_reached, credits.low_balance, credits.depleted,
             *     quota.approval_requested, quota.approval_decided; all when absent or empty.
             */
            events?: string[];
            /** @description `https://…` (plain http only when the gateway allows it). */
            url: string;
        };
        WebhookList: {
            data: components["schemas"]["WebhookAnswer"][];
            /** @description Always null: listed whole. */
            nextCursor?: string | null;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
