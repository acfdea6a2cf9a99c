// The gateway's proxy (`/proxy/{upstream}/…`) through the providers' official clients, and the
// user keys that let a browser or phone call it as one user.
//
// The client classes are passed in, never imported: this package keeps no runtime dependency,
// the caller's own installed version of `openai`, `@anthropic-ai/sdk`, `@google/genai`,
// `@anthropic-ai/bedrock-sdk`, `@aws-sdk/client-bedrock-runtime` or `@anthropic-ai/vertex-sdk`
// is the one used, and the answer is typed as an instance of the class passed. The proxy speaks
// each provider's own API, so the client needs only its base URL, a key of the gateway, and the
// X-Quota-* headers that name who pays and what the call is for; the provider's key stays on
// the gateway.
//
// Creating a user key takes no Idempotency-Key on the gateway and a repeat mints a second key,
// so it is retried only when the request cannot have arrived (a refused connection, a 429);
// listing is a read and revoking a DELETE, retried like those.
import type { CallOptions } from "./client.js";
import type { Call } from "./http.js";
import type { StepKind } from "./runs.js";
import type { Metadata, UserKeyList, UserKeyMade } from "./types.js";

type Send = <T>(call: Call) => Promise<T>;
type Per = (opts: CallOptions) => { signal: AbortSignal | undefined; timeoutMs: number | undefined };

/** A provider's client class (`OpenAI`, `Anthropic`, `GoogleGenAI`, …): constructed with one options object. */
export type ProviderClass = new (options?: any) => any;

/**
 * An AWS SDK client class (`BedrockRuntimeClient`): its configuration is a rest parameter, and
 * its instance has the middleware stack the quota headers are added by.
 */
export type AwsClientClass = new (...configuration: any[]) => { middlewareStack: any };

/** What the proxy is told beside the provider's own request: where it goes, and what it is for. */
export interface ProxyOptions {
  /** The gateway's name for the upstream (`/proxy/{upstream}/…`); default `"openai"`, `"anthropic"`, `"gemini"`, `"azure"`, `"bedrock"` or `"vertex"`. */
  upstream?: string | undefined;
  /**
   * Put on every call's ledger entry beside the proxy's own (`model`, `upstream`, token
   * counts, …), whose names it may not use; at most 16 keys (`X-Quota-Metadata`).
   */
  metadata?: Metadata | undefined;
  /** A run of the user (`startRun`) whose budget the calls draw on, each call one step (`X-Quota-Run`). */
  run?: string | undefined;
  /** The run's action the calls are steps of, bounded by `limits.attemptsPerAction` (`X-Quota-Action`). */
  action?: string | undefined;
  /** What the calls are to their action (`X-Quota-Kind`); with `run` only. */
  kind?: StepKind | undefined;
}

/** The options of the class's own constructor, less those the gateway sets (`baseURL`, the key). */
type OwnOptions<C extends ProviderClass> = Omit<NonNullable<ConstructorParameters<C>[0]>, "baseURL" | "apiKey" | "authToken">;

/**
 * `ProxyOptions` and the client's own options (`maxRetries`, `timeout`, `defaultHeaders`,
 * `fetch`, `dangerouslyAllowBrowser`, …): `baseURL` and the key are the gateway's.
 */
export type ProxyClientOptions<C extends ProviderClass> = ProxyOptions & OwnOptions<C>;

/**
 * The options of Google's `GoogleGenAI` the caller keeps: its `httpOptions` but the base URL
 * (`headers`, `timeout`, `retryOptions`, `fetch`, …) and `apiVersion`. The key is the gateway's,
 * and the API the Gemini Developer API: never Vertex AI, a project, a location or Google's auth.
 */
type GeminiOwnOptions<C extends ProviderClass> = NonNullable<ConstructorParameters<C>[0]> extends infer O
  ? Omit<O, "apiKey" | "vertexai" | "enterprise" | "project" | "location" | "googleAuthOptions" | "httpOptions"> & {
      httpOptions?: (O extends { httpOptions?: infer H } ? Omit<NonNullable<H>, "baseUrl"> : never) | undefined;
    }
  : never;

/** `ProxyOptions` and `GoogleGenAI`'s own options, less those the gateway sets. */
export type GeminiClientOptions<C extends ProviderClass> = ProxyOptions & GeminiOwnOptions<C>;

/**
 * `ProxyOptions` and `AzureOpenAI`'s own options (`apiVersion`, which it needs, `maxRetries`,
 * `defaultHeaders`, …), less those the gateway sets: its endpoint, the key, and Entra ID's
 * token provider (the gateway holds Azure's credential). Name a deployment as the model.
 */
export type AzureClientOptions<C extends ProviderClass> = ProxyOptions &
  Omit<NonNullable<ConstructorParameters<C>[0]>, "baseURL" | "endpoint" | "apiKey" | "azureADTokenProvider">;

/**
 * `ProxyOptions` and `AnthropicBedrock`'s own options (`awsRegion`, `maxRetries`,
 * `defaultHeaders`, …), less those the gateway sets: its base URL, the key, and AWS's
 * credentials (the gateway holds them and signs the upstream request).
 */
export type AnthropicBedrockClientOptions<C extends ProviderClass> = ProxyOptions &
  Omit<NonNullable<ConstructorParameters<C>[0]>,
    "baseURL" | "apiKey" | "authToken" | "awsAccessKey" | "awsSecretKey" | "awsSessionToken" | "providerChainResolver" | "skipAuth">;

/**
 * `ProxyOptions` and `BedrockRuntimeClient`'s own configuration (`region`, `maxAttempts`,
 * `requestHandler`, …), less what the gateway sets: its endpoint, the key as the bearer token,
 * and AWS's credentials.
 */
export type BedrockRuntimeOptions<C extends AwsClientClass> = ProxyOptions &
  Omit<NonNullable<ConstructorParameters<C>[0]>,
    "endpoint" | "token" | "authSchemePreference" | "credentials" | "credentialDefaultProvider">;

/**
 * `ProxyOptions` and `AnthropicVertex`'s own options (`maxRetries`, `defaultHeaders`, …), less
 * those the gateway sets: its base URL and Google's credentials (`accessToken`, `googleAuth`,
 * `authClient`: the gateway holds the service account and mints Vertex's tokens). The project
 * and region the calls' paths name are required: the gateway forwards them as given.
 */
export type AnthropicVertexClientOptions<C extends ProviderClass> = ProxyOptions &
  Omit<NonNullable<ConstructorParameters<C>[0]>,
    "baseURL" | "apiKey" | "authToken" | "accessToken" | "googleAuth" | "authClient" | "projectId" | "region"> & {
    /** The Google Cloud project the calls' paths name (`projects/{projectId}/…`). */
    projectId: string;
    /** The location the calls' paths name (`locations/{region}/…`): `us-east5`, `global`, … */
    region: string;
  };

/**
 * `ProxyOptions` and `GoogleGenAI`'s own options as for Gemini (`httpOptions` but its base URL,
 * `apiVersion`), with the Vertex AI project and location the calls' paths name, which are
 * required: the gateway forwards them as given. Google's auth is the gateway's.
 */
export type VertexGeminiClientOptions<C extends ProviderClass> = GeminiClientOptions<C> & {
  /** The Google Cloud project the calls' paths name (`projects/{project}/…`). */
  project: string;
  /** The location the calls' paths name (`locations/{location}/…`): `us-central1`, `global`, … */
  location: string;
};

/** What `createUserKey` takes beside the user. */
export interface UserKeyInput {
  /** Up to 128 characters, shown in lists (`"iOS app"`, a device's name). */
  label?: string | undefined;
  /** When the key stops working; never by default. */
  expiresAt?: string | Date | undefined;
}

type HeaderValue = string | null | undefined;
type HeaderRecord = Record<string, HeaderValue | readonly HeaderValue[]>;

/** A fetch `Headers` (the providers' clients answer one), or the headers as a record (Node's `IncomingMessage.headers`). */
type HeaderSource = { get(name: string): string | null } | HeaderRecord;

const USER_KEY_PREFIX = "qg_uk_";
const PUBLISHABLE_KEY_PREFIX = "qg_pk_";
// The proxy's answer header naming the call's reservation.
const RESERVATION_HEADER = "x-quota-reservation";

/**
 * JSON with every character past ASCII escaped: a header value must be visible ASCII (the
 * gateway refuses others), and `\uXXXX` is the same JSON string.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The X-Quota-* headers of the options; the user's only with a key that does not name one. */
function quotaHeaders(userId: string | undefined, options: ProxyOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (userId !== undefined) headers["X-Quota-User"] = userId;
  if (options.metadata) headers["X-Quota-Metadata"] = asciiJson(options.metadata);
  if (options.run) headers["X-Quota-Run"] = options.run;
  if (options.action) headers["X-Quota-Action"] = options.action;
  if (options.kind) headers["X-Quota-Kind"] = options.kind;
  return headers;
}

/**
 * The caller's `defaultHeaders` (a record, `Headers` or pairs, as the SDKs take them) with the
 * quota headers on top: a same-named header of the caller's, in any case, gives way, since the
 * quota headers are what this client is for.
 */
function mergeHeaders(given: unknown, ours: Record<string, string>): HeaderRecord {
  const taken = new Set(Object.keys(ours).map((n) => n.toLowerCase()));
  const merged: HeaderRecord = {};
  const put = (name: string, value: HeaderValue | readonly HeaderValue[]) => {
    if (taken.has(name.toLowerCase())) return;
    const before = merged[name];
    // A name given twice (pairs, or a Headers' repeated entries) keeps both values.
    merged[name] = before === undefined ? value : ([] as HeaderValue[]).concat(before as HeaderValue, value as HeaderValue);
  };
  if (Array.isArray(given)) {
    for (const [name, value] of given as HeaderValue[][]) if (typeof name === "string") put(name, value);
  } else if (given && typeof (given as Headers).get === "function" && typeof (given as Headers).forEach === "function") {
    (given as Headers).forEach((value, name) => put(name, value));
  } else if (given && typeof given === "object") {
    for (const [name, value] of Object.entries(given as HeaderRecord)) put(name, value);
  }
  return { ...merged, ...ours };
}

const trimmed = (url: string) => url.replace(/\/+$/, "");

/** The providers whose clients the helpers build, each with its default upstream's name. */
type Provider = "openai" | "anthropic" | "gemini" | "azure" | "bedrock" | "vertex";

/**
 * The proxy's base URL for an upstream: OpenAI's clients add paths after `/v1`, Anthropic's,
 * Google's and Bedrock's (`/model/{modelId}/…`) after the host; for Azure OpenAI, the endpoint
 * its client adds `/openai/…` to; for Vertex AI, the host Google's client adds
 * `/v1beta1/projects/…` to (`AnthropicVertex` takes it with `/v1` after it).
 */
export function proxyBaseUrl(gatewayUrl: string, provider: Provider, upstream: string = provider): string {
  const base = `${trimmed(gatewayUrl)}/proxy/${encodeURIComponent(upstream)}`;
  return provider === "openai" ? `${base}/v1` : base;
}

/**
 * The reservation of a call the proxy made (its `x-quota-reservation` header), to say later what
 * its output came to with `setOutcome`: pass the provider's raw response (`const { data, response }
 * = await openai.chat.completions.create(...).withResponse()`) or its headers. Null when there is
 * none (the provider did not answer). A stream's hold is committed when the stream ends, so its
 * outcome is said after that.
 */
export function proxyReservationId(from: { headers: HeaderSource } | HeaderSource): string | null {
  const inner = (from as { headers?: unknown }).headers;
  return header(inner && typeof inner === "object" ? (inner as HeaderSource) : (from as HeaderSource), RESERVATION_HEADER);
}

/** A header's (first) value, its name in any case; null when absent. */
function header(headers: HeaderSource, name: string): string | null {
  if (typeof headers.get === "function") return (headers as Headers).get(name);
  const record = headers as HeaderRecord;
  const found = Object.keys(record).find((key) => key.toLowerCase() === name);
  const value = found === undefined ? undefined : record[found];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/**
 * What the OpenAI client would otherwise read from this process's environment and send through
 * the gateway to the provider: the organization and project of the caller's own OpenAI account
 * (`OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`), which the provider would hold against the gateway's
 * key, and an admin key (`OPENAI_ADMIN_KEY`) that has no business leaving the process. Given
 * explicitly, the caller's own win.
 */
const OPENAI_UNREAD = { organization: null, project: null, adminAPIKey: null };

/**
 * Bedrock's region when the caller names none: the client needs one, but only to sign, which it
 * does not do here (the gateway signs for the upstream's own region).
 */
const AWS_REGION = "us-east-1";

const CLASS_NAMES = {
  openai: "OpenAI", anthropic: "Anthropic", gemini: "GoogleGenAI", azure: "AzureOpenAI", bedrock: "AnthropicBedrock",
  bedrockRuntime: "BedrockRuntimeClient", vertex: "AnthropicVertex", vertexGemini: "GoogleGenAI",
} as const;

function checkClass(Client: unknown, name: keyof typeof CLASS_NAMES): void {
  if (typeof Client !== "function") {
    throw new TypeError(`quota-gateway: pass the ${CLASS_NAMES[name]} class itself, as its package exports it, not an instance or its options`);
  }
}

/** The options less the quota's, and the quota's as headers. */
function split(userId: string | undefined, options: ProxyOptions | undefined) {
  const { upstream, metadata, run, action, kind, ...rest } = (options ?? {}) as ProxyOptions & Record<string, unknown>;
  return { upstream, rest, quota: quotaHeaders(userId, { metadata, run, action, kind }) };
}

/** Where each client takes the proxy's base URL, and what else it is told so that it sends the key as given. */
function placed(provider: Provider, baseUrl: string): Record<string, unknown> {
  // Azure's client takes the resource's endpoint and sends the key as `api-key`.
  if (provider === "azure") return { endpoint: baseUrl };
  // AnthropicBedrock sends `apiKey` (a Bedrock API key to it) as `Authorization: Bearer` and
  // then signs nothing with AWS's credentials, so it needs none; `skipAuth` would drop the key.
  if (provider === "bedrock") return { baseURL: baseUrl, skipAuth: false };
  return { baseURL: baseUrl };
}

function construct<C extends ProviderClass>(
  Client: C, provider: Provider, gatewayUrl: string, apiKey: string, userId: string | undefined,
  options: ProxyClientOptions<C> | GeminiClientOptions<C> | AzureClientOptions<C> | AnthropicBedrockClientOptions<C> | undefined,
  defaults: Record<string, unknown>,
): InstanceType<C> {
  checkClass(Client, provider);
  const { upstream, rest, quota } = split(userId, options);
  const baseUrl = proxyBaseUrl(gatewayUrl, provider, upstream);
  if (provider === "gemini") {
    // Google's client takes its base URL and headers in `httpOptions`, and sends the key as
    // `x-goog-api-key`. `vertexai: false` keeps GOOGLE_GENAI_USE_VERTEXAI in the environment
    // from sending the calls to Vertex AI instead.
    const { httpOptions, ...own } = rest as { httpOptions?: { headers?: unknown } & Record<string, unknown> };
    const headers = mergeHeaders(httpOptions?.headers, quota);
    return new Client({ ...defaults, ...own, vertexai: false, apiKey, httpOptions: { ...httpOptions, baseUrl, headers } }) as InstanceType<C>;
  }
  const { defaultHeaders, ...own } = rest as { defaultHeaders?: unknown };
  const headers = mergeHeaders(defaultHeaders, quota);
  return new Client({ ...defaults, ...own, ...placed(provider, baseUrl), apiKey, defaultHeaders: headers }) as InstanceType<C>;
}

/**
 * What `AnthropicVertex` asks google-auth-library's `AuthClient` for before each request: the
 * headers to send. This one answers the gateway's key as the bearer token and mints nothing, so
 * no Google credential is looked for (no Application Default Credentials, no metadata server).
 */
function gatewayAuthClient(key: string) {
  const authorization = `Bearer ${key}`;
  return {
    getRequestHeaders: async () => new Headers({ authorization }),
    getAccessToken: async () => ({ token: key }),
  };
}

/**
 * Anthropic's Vertex client (`AnthropicVertex`) pointed at the proxy: its base URL with `/v1`
 * after it, as Vertex's own (`…/v1/projects/{p}/locations/{l}/publishers/anthropic/models/
 * {m}:rawPredict`), the key the bearer token its auth client answers, the quota headers among
 * its default headers.
 */
function vertexClaude<C extends ProviderClass>(
  Client: C, gatewayUrl: string, apiKey: string, userId: string | undefined,
  options: AnthropicVertexClientOptions<C> | undefined, defaults: Record<string, unknown>,
): InstanceType<C> {
  checkClass(Client, "vertex");
  const { upstream, rest, quota } = split(userId, options);
  const { defaultHeaders, ...own } = rest as { defaultHeaders?: unknown };
  return new Client({
    ...defaults, ...own,
    baseURL: `${proxyBaseUrl(gatewayUrl, "vertex", upstream)}/v1`,
    // Its only credential: `googleAuth` null, so that one given as well cannot make it refuse both.
    authClient: gatewayAuthClient(apiKey), googleAuth: null,
    defaultHeaders: mergeHeaders(defaultHeaders, quota),
  }) as InstanceType<C>;
}

/**
 * Google's client (`GoogleGenAI`) calling Vertex AI through the proxy: `vertexai: true` with the
 * project and location, which it puts in each path (`/v1beta1/projects/{p}/locations/{l}/
 * publishers/google/models/{m}:generateContent`), its base URL the proxy's. The key is its
 * `apiKey`: with one, it sends it as `x-goog-api-key` and builds no GoogleAuth, so no Google
 * credential is looked for; with the project given, its paths are still the project's, not
 * express mode's.
 */
function vertexGenAI<C extends ProviderClass>(
  Client: C, gatewayUrl: string, apiKey: string, userId: string | undefined, options: VertexGeminiClientOptions<C> | undefined,
): InstanceType<C> {
  checkClass(Client, "vertexGemini");
  const { upstream, rest, quota } = split(userId, options);
  const { httpOptions, ...own } = rest as { httpOptions?: { headers?: unknown } & Record<string, unknown> };
  const headers = mergeHeaders(httpOptions?.headers, quota);
  const baseUrl = proxyBaseUrl(gatewayUrl, "vertex", upstream);
  return new Client({
    ...own, vertexai: true, enterprise: undefined, googleAuthOptions: undefined, apiKey, httpOptions: { ...httpOptions, baseUrl, headers },
  }) as InstanceType<C>;
}

/** What the AWS SDK's middleware stack takes (`@smithy/types`), as far as it is used here. */
type BuildMiddleware = (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>;
type MiddlewareStack = { add(middleware: BuildMiddleware, options: { step: "build"; name: string }): void };

/**
 * The AWS SDK's `BedrockRuntimeClient` pointed at the proxy: the key is its bearer token (a
 * Bedrock API key to it, which it sends over plain HTTP as over HTTPS), the bearer scheme
 * preferred to Signature Version 4 so that AWS's credentials are never looked for. The SDK has
 * no default headers: a middleware adds the quota headers to each request before it is sent.
 */
function runtime<C extends AwsClientClass>(
  Client: C, gatewayUrl: string, apiKey: string, userId: string | undefined, options: BedrockRuntimeOptions<C> | undefined,
): InstanceType<C> {
  checkClass(Client, "bedrockRuntime");
  const { upstream, rest, quota } = split(userId, options);
  const client = new Client({
    region: AWS_REGION, ...rest,
    endpoint: proxyBaseUrl(gatewayUrl, "bedrock", upstream), token: { token: apiKey }, authSchemePreference: ["httpBearerAuth"],
  });
  const taken = new Set(Object.keys(quota).map((n) => n.toLowerCase()));
  (client.middlewareStack as MiddlewareStack).add((next) => (args) => {
    const headers = (args.request as { headers?: Record<string, string> } | undefined)?.headers;
    if (headers) {
      // A same-named header of the caller's, in any case, gives way, as in `mergeHeaders`.
      for (const name of Object.keys(headers)) if (taken.has(name.toLowerCase())) delete headers[name];
      Object.assign(headers, quota);
    }
    return next(args);
  }, { step: "build", name: "quotaGatewayHeaders" });
  return client as InstanceType<C>;
}

/** Refuses a key the proxy would refuse for this use, before any call. */
function checkUserKey(userKey: string, what: string): void {
  if (typeof userKey !== "string" || !userKey.startsWith(USER_KEY_PREFIX)) {
    throw new TypeError(`quota-gateway: ${what} takes a user key (qg_uk_…, from createUserKey); a project's secret key must never reach a browser`);
  }
}

/**
 * The official OpenAI client calling the gateway's proxy with a user key (`createUserKey`),
 * for a browser or a phone: every call is that user's, and only proxy calls are possible with
 * it. The same as `new OpenAI({ baseURL: "<gateway>/proxy/openai/v1", apiKey: userKey,
 * dangerouslyAllowBrowser: true })`: the key is meant to be in the page, so the browser guard is
 * off unless `dangerouslyAllowBrowser: false` is passed.
 */
export function openaiForUserKey<C extends ProviderClass>(OpenAI: C, gatewayUrl: string, userKey: string, options?: ProxyClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "openaiForUserKey");
  return construct(OpenAI, "openai", gatewayUrl, userKey, undefined, options, { ...OPENAI_UNREAD, dangerouslyAllowBrowser: true });
}

/** `openaiForUserKey` for the official Anthropic client: `new Anthropic({ baseURL: "<gateway>/proxy/anthropic", apiKey: userKey, dangerouslyAllowBrowser: true })`. */
export function anthropicForUserKey<C extends ProviderClass>(Anthropic: C, gatewayUrl: string, userKey: string, options?: ProxyClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "anthropicForUserKey");
  return construct(Anthropic, "anthropic", gatewayUrl, userKey, undefined, options, { dangerouslyAllowBrowser: true });
}

/**
 * `openaiForUserKey` for Google's client (`import { GoogleGenAI } from "@google/genai"`): `new
 * GoogleGenAI({ apiKey: userKey, httpOptions: { baseUrl: "<gateway>/proxy/gemini" } })`, which
 * runs in a browser as it is.
 */
export function geminiForUserKey<C extends ProviderClass>(GoogleGenAI: C, gatewayUrl: string, userKey: string, options?: GeminiClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "geminiForUserKey");
  return construct(GoogleGenAI, "gemini", gatewayUrl, userKey, undefined, options, {});
}

/**
 * `openaiForUserKey` for the official `AzureOpenAI` client: `new AzureOpenAI({ endpoint:
 * "<gateway>/proxy/azure", apiKey: userKey, apiVersion, dangerouslyAllowBrowser: true })`.
 */
export function azureOpenaiForUserKey<C extends ProviderClass>(AzureOpenAI: C, gatewayUrl: string, userKey: string, options?: AzureClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "azureOpenaiForUserKey");
  return construct(AzureOpenAI, "azure", gatewayUrl, userKey, undefined, options, { ...OPENAI_UNREAD, dangerouslyAllowBrowser: true });
}

/**
 * `openaiForUserKey` for `AnthropicBedrock` (`import AnthropicBedrock from
 * "@anthropic-ai/bedrock-sdk"`): `new AnthropicBedrock({ baseURL: "<gateway>/proxy/bedrock",
 * apiKey: userKey, dangerouslyAllowBrowser: true })`.
 */
export function anthropicBedrockForUserKey<C extends ProviderClass>(AnthropicBedrock: C, gatewayUrl: string, userKey: string, options?: AnthropicBedrockClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "anthropicBedrockForUserKey");
  return construct(AnthropicBedrock, "bedrock", gatewayUrl, userKey, undefined, options, { awsRegion: AWS_REGION, dangerouslyAllowBrowser: true });
}

/**
 * `openaiForUserKey` for the AWS SDK's `BedrockRuntimeClient` (`import { BedrockRuntimeClient }
 * from "@aws-sdk/client-bedrock-runtime"`): its endpoint `<gateway>/proxy/bedrock`, the user key
 * its bearer token.
 */
export function bedrockRuntimeForUserKey<C extends AwsClientClass>(BedrockRuntimeClient: C, gatewayUrl: string, userKey: string, options?: BedrockRuntimeOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "bedrockRuntimeForUserKey");
  return runtime(BedrockRuntimeClient, gatewayUrl, userKey, undefined, options);
}

/**
 * `openaiForUserKey` for Anthropic's Vertex client (`import { AnthropicVertex } from
 * "@anthropic-ai/vertex-sdk"`): `new AnthropicVertex({ baseURL: "<gateway>/proxy/vertex/v1",
 * projectId, region, dangerouslyAllowBrowser: true })` with the user key as its bearer token.
 */
export function anthropicVertexForUserKey<C extends ProviderClass>(AnthropicVertex: C, gatewayUrl: string, userKey: string, options: AnthropicVertexClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "anthropicVertexForUserKey");
  return vertexClaude(AnthropicVertex, gatewayUrl, userKey, undefined, options, { dangerouslyAllowBrowser: true });
}

/**
 * `openaiForUserKey` for Google's client calling Vertex AI (`import { GoogleGenAI } from
 * "@google/genai"`): `new GoogleGenAI({ vertexai: true, project, location, apiKey: userKey,
 * httpOptions: { baseUrl: "<gateway>/proxy/vertex" } })`.
 */
export function vertexGeminiForUserKey<C extends ProviderClass>(GoogleGenAI: C, gatewayUrl: string, userKey: string, options: VertexGeminiClientOptions<C>): InstanceType<C> {
  checkUserKey(userKey, "vertexGeminiForUserKey");
  return vertexGenAI(GoogleGenAI, gatewayUrl, userKey, undefined, options);
}

export function proxyMethods(send: Send, per: Per, gateway: { baseUrl: string; apiKey: string }) {
  /** The project's key, as the proxy takes it with X-Quota-User. */
  const serverKey = (provider: string) => {
    if (gateway.apiKey.startsWith(PUBLISHABLE_KEY_PREFIX)) {
      throw new TypeError(`quota-gateway: qg.${provider}() needs the project's secret key (qg_sk_…); in a browser, use ${provider}ForUserKey with a user key`);
    }
    return gateway.apiKey;
  };
  const keys = "/v1/user-keys";

  return {
    /**
     * The official OpenAI client (`import OpenAI from "openai"`, passed in) calling the
     * gateway's proxy for `userId`: each counted call is held at its worst case before the
     * provider sees it and charged the usage the provider reports; a denial is a 429 the client
     * raises as `OpenAI.RateLimitError` without retrying (unless a window resets within a
     * minute). Server side: it carries the project's secret key.
     */
    openai<C extends ProviderClass>(OpenAI: C, userId: string, options?: ProxyClientOptions<C>): InstanceType<C> {
      return construct(OpenAI, "openai", gateway.baseUrl, serverKey("openai"), userId, options, OPENAI_UNREAD);
    },

    /** `openai` for the official Anthropic client (`import Anthropic from "@anthropic-ai/sdk"`). */
    anthropic<C extends ProviderClass>(Anthropic: C, userId: string, options?: ProxyClientOptions<C>): InstanceType<C> {
      return construct(Anthropic, "anthropic", gateway.baseUrl, serverKey("anthropic"), userId, options, {});
    },

    /**
     * `openai` for Google's client (`import { GoogleGenAI } from "@google/genai"`), calling
     * Gemini: a denial rejects with its `ApiError` (`status` 429), which it does not retry
     * unless `httpOptions.retryOptions` says to.
     */
    gemini<C extends ProviderClass>(GoogleGenAI: C, userId: string, options?: GeminiClientOptions<C>): InstanceType<C> {
      return construct(GoogleGenAI, "gemini", gateway.baseUrl, serverKey("gemini"), userId, options, {});
    },

    /**
     * `openai` for the official `AzureOpenAI` client (`import { AzureOpenAI } from "openai"`),
     * calling the gateway's Azure OpenAI upstream (`"azure"` unless `upstream` names another) as
     * it calls an Azure resource: give its `apiVersion` and name a deployment as the model.
     */
    azureOpenai<C extends ProviderClass>(AzureOpenAI: C, userId: string, options?: AzureClientOptions<C>): InstanceType<C> {
      return construct(AzureOpenAI, "azure", gateway.baseUrl, serverKey("azureOpenai"), userId, options, OPENAI_UNREAD);
    },

    /**
     * `openai` for Anthropic's Bedrock client (`import AnthropicBedrock from
     * "@anthropic-ai/bedrock-sdk"`), calling the gateway's Bedrock upstream (`"bedrock"` unless
     * `upstream` names another) by InvokeModel: the gateway holds AWS's credentials and signs
     * for its own region, so this process needs none. A denial is `AnthropicBedrock.RateLimitError`.
     */
    anthropicBedrock<C extends ProviderClass>(AnthropicBedrock: C, userId: string, options?: AnthropicBedrockClientOptions<C>): InstanceType<C> {
      return construct(AnthropicBedrock, "bedrock", gateway.baseUrl, serverKey("anthropicBedrock"), userId, options, { awsRegion: AWS_REGION });
    },

    /**
     * `openai` for the AWS SDK's `BedrockRuntimeClient` (`import { BedrockRuntimeClient } from
     * "@aws-sdk/client-bedrock-runtime"`), for Converse, ConverseStream, InvokeModel and
     * InvokeModelWithResponseStream through the gateway's Bedrock upstream. In Node, pass
     * `requestHandler: new NodeHttpHandler()` (`@smithy/node-http-handler`): the SDK speaks
     * HTTP/2 there by default, and the gateway HTTP/1.1. A denial is its `ThrottlingException`,
     * which the SDK retries as it retries AWS's own (it reads no `x-should-retry`) unless
     * `maxAttempts: 1`.
     */
    bedrockRuntime<C extends AwsClientClass>(BedrockRuntimeClient: C, userId: string, options?: BedrockRuntimeOptions<C>): InstanceType<C> {
      return runtime(BedrockRuntimeClient, gateway.baseUrl, serverKey("bedrockRuntime"), userId, options);
    },

    /**
     * `openai` for Anthropic's Vertex client (`import { AnthropicVertex } from
     * "@anthropic-ai/vertex-sdk"`), calling Claude through the gateway's Vertex AI upstream
     * (`"vertex"` unless `upstream` names another) by rawPredict and streamRawPredict: the
     * gateway holds the service account and mints Vertex's access tokens, so this process needs
     * no Google credentials. Name the model as Vertex does (`claude-haiku-4-5@20251001`). A
     * denial is `AnthropicVertex.RateLimitError`.
     */
    anthropicVertex<C extends ProviderClass>(AnthropicVertex: C, userId: string, options: AnthropicVertexClientOptions<C>): InstanceType<C> {
      return vertexClaude(AnthropicVertex, gateway.baseUrl, serverKey("anthropicVertex"), userId, options, {});
    },

    /**
     * `openai` for Google's client calling Gemini on Vertex AI (`import { GoogleGenAI } from
     * "@google/genai"`), through the gateway's Vertex AI upstream (`"vertex"` unless `upstream`
     * names another): `vertexai: true` with your `project` and `location`, no Google credentials
     * in this process. A denial rejects with its `ApiError` (`status` 429).
     */
    vertexGemini<C extends ProviderClass>(GoogleGenAI: C, userId: string, options: VertexGeminiClientOptions<C>): InstanceType<C> {
      return vertexGenAI(GoogleGenAI, gateway.baseUrl, serverKey("vertexGemini"), userId, options);
    },

    /**
     * A key for one user's app (`qg_uk_…`) to call the proxy as that user and nothing else:
     * hand it to the browser or phone (`openaiForUserKey`). `key` is in this answer only.
     * `user_key_limit` (409) past the gateway's keys per user. Not retried once it may have
     * arrived: a repeat would mint a second key (`listUserKeys` shows what was made).
     */
    createUserKey(userId: string, input: UserKeyInput = {}, opts: CallOptions = {}): Promise<UserKeyMade> {
      const { label, expiresAt } = input;
      const body = {
        userId,
        ...(label === undefined ? {} : { label }),
        ...(expiresAt === undefined ? {} : { expiresAt: expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt }),
      };
      return send({ method: "POST", path: keys, body, replayable: false, ...per(opts) });
    },

    /** The user's keys, never their secret part (`hint` shows its ends): `{data, nextCursor: null}`. */
    listUserKeys(userId: string, opts: CallOptions = {}): Promise<UserKeyList> {
      return send({ method: "GET", path: `${keys}?${new URLSearchParams({ userId })}`, replayable: true, ...per(opts) });
    },

    /**
     * Ends a user key: refused on every node of the gateway within a second. `key_not_found`
     * (404) for a key the project does not have, revoked ones included: either way it is gone.
     */
    revokeUserKey(keyId: string, opts: CallOptions = {}): Promise<void> {
      return send({ method: "DELETE", path: `${keys}/${encodeURIComponent(keyId)}`, replayable: true, ...per(opts) });
    },
  };
}
