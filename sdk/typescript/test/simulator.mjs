// The provider simulator (tests/provider/sim.py) on a loopback port, and an upstreams file that
// points the gateway's proxy at it: OpenAI's, Anthropic's, Gemini's, Azure OpenAI's, Amazon
// Bedrock's and Google Vertex AI's wire formats, steered per request by the `x-sim` header, read
// back at /_sim/stats.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../../../tests/provider/sim.py", import.meta.url));
const START_MS = 10_000;
// Azure OpenAI's deployments, each with the model it serves (the simulator's and the gateway's).
export const AZURE = { "chat-prod": "gpt-4o-mini" };
// The AWS credentials the simulator checks Bedrock's signatures with, and the gateway signs with:
// its environment's, as a node on AWS has them. A gateway given `upstreamsFile` needs these.
export const AWS_ENV = { AWS_ACCESS_KEY_ID: "AKIDSIMTS", AWS_SECRET_ACCESS_KEY: "sim-aws-secret-ts", AWS_SESSION_TOKEN: "sim-session-ts" };
// How long the access tokens the simulator mints for Vertex AI live, in seconds: short, so that
// the gateway (which keeps one for three quarters of its life) renews them within a test.
export const TOKEN_LIFETIME_S = 6;
// The project the service account is of, and its email.
export const VERTEX_PROJECT = "sim-project";

/**
 * Starts the simulator requiring `key`; answers its URL, `stats()`, `reset()`, `stop()`, and
 * `serviceAccount`: the path of a service account's JSON key whose `token_uri` is the simulator's
 * `/token`, which the simulator checks Vertex AI's JWTs against (the gateway's `VERTEX_SA`).
 */
export async function startSimulator(key) {
  // An RSA key made here, its PEM given to the simulator, its service account's JSON written
  // once the simulator's port is known.
  const dir = mkdtempSync(join(tmpdir(), "qg-sdk-google-"));
  const pem = join(dir, "key.pem");
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem], { stdio: "ignore" });
  const args = [
    script, "--port", "0", "--key", key, "--azure-deployments", Object.entries(AZURE).map(([d, m]) => `${d}=${m}`).join(","),
    "--aws-key", [AWS_ENV.AWS_ACCESS_KEY_ID, AWS_ENV.AWS_SECRET_ACCESS_KEY, AWS_ENV.AWS_SESSION_TOKEN].join(":"),
    "--google-key", pem, "--token-lifetime", String(TOKEN_LIFETIME_S),
  ];
  const child = spawn("python3", args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  let timer;
  const port = await new Promise((done, fail) => {
    timer = setTimeout(() => fail(new Error(`the simulator did not start within ${START_MS} ms`)), START_MS);
    child.once("exit", (code) => fail(new Error(`the simulator exited (${code}) before listening`)));
    lines.once("line", (line) => {
      const m = /^listening 127\.0\.0\.1:(\d+)$/.exec(line.trim());
      if (m) done(Number(m[1]));
      else fail(new Error(`the simulator said ${JSON.stringify(line)}`));
    });
  }).catch((err) => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }).finally(() => clearTimeout(timer));
  lines.close();
  const url = `http://127.0.0.1:${port}`;
  const serviceAccount = join(dir, "service-account.json");
  writeFileSync(serviceAccount, JSON.stringify({
    type: "service_account", project_id: VERTEX_PROJECT, private_key_id: "sim-key-ts", private_key: readFileSync(pem, "utf8"),
    client_email: `sim@${VERTEX_PROJECT}.iam.gserviceaccount.com`, client_id: "1", token_uri: `${url}/token`,
  }));
  return {
    url,
    serviceAccount,
    stats: async () => (await fetch(`${url}/_sim/stats`)).json(),
    reset: async () => void (await fetch(`${url}/_sim/reset`, { method: "POST" })).arrayBuffer(),
    stop: () => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What a gateway given `upstreamsFile` needs in its environment beside the providers' key: AWS's
 * credentials (`bedrock` signs with them) and the service account Vertex AI's tokens are minted
 * from (`VERTEX_SA`, without which the gateway does not start).
 */
export const cloudEnv = (sim) => ({ ...AWS_ENV, VERTEX_SA: sim.serviceAccount });

/**
 * A QG_UPSTREAMS file naming the simulator as `openai`, `anthropic`, `gemini`, `azure` (Azure
 * OpenAI with AZURE's deployments), `bedrock` (signed with AWS_ENV's credentials, which the
 * gateway's environment must have), `bedrock-key` (Bedrock with an API key) and `vertex` (Vertex
 * AI, its tokens minted from the service account in the gateway's `VERTEX_SA`: see `cloudEnv`),
 * the provider's key read from `credentialEnv`; answers its path and how to remove it.
 */
export function upstreamsFile(simulatorUrl, credentialEnv) {
  const dir = mkdtempSync(join(tmpdir(), "qg-sdk-upstreams-"));
  const path = join(dir, "upstreams.json");
  // `x-sim` steers the simulator: forwarded as an operator would allow a header of theirs.
  const at = (name, kind) => ({ name, kind, baseUrl: simulatorUrl, forwardHeaders: ["x-sim"] });
  const upstream = (name, kind = name) => ({ ...at(name, kind), credentialEnv });
  const azure = { ...upstream("azure", "azure-openai"), deployments: AZURE };
  // Without a key, Bedrock's requests are signed with the gateway's AWS credentials.
  const signed = { ...at("bedrock", "bedrock"), region: "us-east-1" };
  const keyed = upstream("bedrock-key", "bedrock");
  const vertex = { ...at("vertex", "vertex"), credentialEnv: "VERTEX_SA" };
  writeFileSync(path, JSON.stringify({ upstreams: [upstream("openai"), upstream("anthropic"), upstream("gemini"), azure, signed, keyed, vertex] }));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
