// What the runtime tells about itself, read without assuming Node: environment variables
// (process.env on Node and Bun, Deno.env on Deno, either of which may refuse to be read), and
// whether this is a runtime where a gateway on 127.0.0.1 makes no sense as a default.

const LOCAL_URL = "http://127.0.0.1:8080";

type Env = { readable: true; value: string | undefined } | { readable: false };

interface Runtime {
  process?: { env?: Record<string, string | undefined> };
  Deno?: { env?: { get(name: string): string | undefined } };
  navigator?: { userAgent?: string };
  EdgeRuntime?: unknown;
  window?: unknown;
}

const runtime = globalThis as Runtime;

/** An environment variable; `readable: false` where the runtime has none or refuses access. */
export function readEnv(name: string): Env {
  // Deno 2 has a `process` whose reads throw NotCapable without --allow-env, as Deno.env does.
  try {
    const env = runtime.process?.env;
    if (env && typeof env === "object") return { readable: true, value: env[name] };
  } catch {
    // Not readable here; Deno.env may be.
  }
  try {
    const env = runtime.Deno?.env;
    if (env && typeof env.get === "function") return { readable: true, value: env.get(name) };
  } catch {
    // Deno without --allow-env.
  }
  return { readable: false };
}

/** Cloudflare Workers, Vercel Edge and browsers: no gateway runs beside the code there. */
function remoteRuntime(): boolean {
  return runtime.navigator?.userAgent === "Cloudflare-Workers" || runtime.EdgeRuntime !== undefined
    || (runtime.window !== undefined && runtime.process === undefined);
}

/**
 * The gateway's URL: the option, else `QUOTA_GATEWAY_URL`, else http://127.0.0.1:8080 where
 * the runtime has a readable environment (a server beside a local gateway). Elsewhere an
 * omitted `baseUrl` is a mistake that would only show as an outage, so it is said at once.
 */
export function baseUrl(option: string | undefined): string {
  if (option) return option.replace(/\/+$/, "");
  const env = readEnv("QUOTA_GATEWAY_URL");
  if (env.readable && env.value) return env.value.replace(/\/+$/, "");
  if (env.readable && !remoteRuntime()) return LOCAL_URL;
  throw new TypeError(
    "quota-gateway: baseUrl is needed in this runtime: it has no readable QUOTA_GATEWAY_URL " +
      "(Cloudflare Workers, Vercel Edge, Deno without --allow-env, browsers), so pass " +
      "createClient({ apiKey, baseUrl: \"https://quota.example.com\" }), from your own bindings or config",
  );
}

/** True unless NODE_ENV says production: development warnings are shown once, then never. */
export function development(): boolean {
  const env = readEnv("NODE_ENV");
  return !(env.readable && env.value === "production");
}
