// Prices: the model catalog the gateway prices by (built into it, or the file QG_CATALOG names),
// and the project's own prices of models, which beat the catalog's. A plan's group priced by
// the model (`"measure": {"price": "catalog"}`) counts a call's tokens and images at the
// project's price, else the catalog's; a model neither prices is denied `unpriced_model`.
// Reads are retried like every read; setting and removing a price are a PUT and a DELETE,
// which set a state and repeat harmlessly.
import type { CallOptions } from "./client.js";
import type { Call } from "./http.js";
import type { BatchPrices, Catalog, LongContextPrices, PerSecond, Price, PriceList } from "./types.js";

type Send = <T>(call: Call) => Promise<T>;
type Per = (opts: CallOptions) => { signal: AbortSignal | undefined; timeoutMs: number | undefined };

/**
 * A model's price as `setPrice` takes it: USD per million tokens (at most 6 decimals, not
 * negative), per image by `"<quality>/<size>"` (`"standard/1024x1024"`, at most 32), for
 * audio per million audio tokens, per second or minute of audio and per million characters,
 * per second of video (by its size), a long-context tier and batch prices.
 */
export interface PriceInput {
  /** Every input token, cached and cache-write ones too unless priced apart. */
  inputPerMillion: number;
  outputPerMillion: number;
  /** Cached input tokens; the input's price when left out. */
  cachedInputPerMillion?: number | null | undefined;
  /** Tokens written to a prompt cache; the input's price when left out. */
  cacheWritePerMillion?: number | null | undefined;
  /** USD per image by `"<quality>/<size>"`; an image of another size or quality is priced at the dearest. */
  perImage?: Record<string, number> | null | undefined;
  /** Audio input tokens (within the input tokens); the input's price when left out. */
  audioInputPerMillion?: number | null | undefined;
  /** Audio output tokens (within the output tokens, a speech model's); the output's price when left out. */
  audioOutputPerMillion?: number | null | undefined;
  /**
   * USD per second of input audio (`audio_seconds`) or of a video (`video_seconds`), or a video
   * model's by the video's size (`{ "1280x720": 0.3 }`, 1 to 32 sizes); at most one of
   * `perSecond` and `perMinute`.
   */
  perSecond?: PerSecond | null | undefined;
  /** USD per minute of input audio (`audio_seconds`). */
  perMinute?: number | null | undefined;
  /** USD per million characters spoken (`input_characters`, text to speech). */
  perMillionCharacters?: number | null | undefined;
  /**
   * A whole call at these prices when its input tokens are more than `overInputTokens` (a whole
   * number, 1 to 100,000,000): `{ overInputTokens: 200000, inputPerMillion: 2.5, outputPerMillion: 15 }`.
   */
  longContext?: LongContextPrices | null | undefined;
  /** The provider's batch prices: a batch submitted through the proxy is priced by them. */
  batch?: BatchPrices | null | undefined;
}

const path = (model: string) => `/v1/prices/${encodeURIComponent(model)}`;

export function priceMethods(send: Send, per: Per) {
  const replay = { replayable: true };

  return {
    /**
     * The model catalog this gateway prices by: its `version` and every model with its prices
     * (USD per million tokens, or per image), limits, and where and when they were read.
     */
    catalog(opts: CallOptions = {}): Promise<Catalog> {
      return send({ method: "GET", path: "/v1/catalog", ...replay, ...per(opts) });
    },

    /** Every price the project set, by model name, each beside the catalog's: `{data, nextCursor: null}`. */
    prices(opts: CallOptions = {}): Promise<PriceList> {
      return send({ method: "GET", path: "/v1/prices", ...replay, ...per(opts) });
    },

    /** The project's price of `model`; `price_not_found` (404) when it set none (the catalog prices it). */
    price(model: string, opts: CallOptions = {}): Promise<Price> {
      return send({ method: "GET", path: path(model), ...replay, ...per(opts) });
    },

    /**
     * Sets the project's own price of `model` (`[A-Za-z0-9_.:/-]{1,128}`: a negotiated rate, a
     * fine-tuned or self-hosted model): it beats the catalog's from the next call on, on every
     * node within a second. `invalid_request` (400) naming the field at fault; `price_limit`
     * (409) for a new model past the project's 1,000 prices.
     */
    setPrice(model: string, price: PriceInput, opts: CallOptions = {}): Promise<Price> {
      return send({ method: "PUT", path: path(model), body: price, ...replay, ...per(opts) });
    },

    /** Removes the project's price of `model`: the catalog prices it again. `price_not_found` (404) when it set none. */
    deletePrice(model: string, opts: CallOptions = {}): Promise<void> {
      return send({ method: "DELETE", path: path(model), ...replay, ...per(opts) });
    },
  };
}
