// Starts things the SDK's scripts and tests need, on loopback only: a private redis-server and
// the gateway binary built from this repository (target/debug by default, QG_BIN to choose).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const binary = process.env.QG_BIN ?? join(repo, "target", "debug", "quota-gateway");

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

/** A redis-server on a free loopback port, in a temporary directory. */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "qg-sdk-redis-"));
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
      "--maxmemory-policy", "noeviction"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  await until("redis-server", async () => {
    const { execFileSync } = await import("node:child_process");
    return execFileSync("redis-cli", ["-p", String(port), "PING"]).toString().trim() === "PONG";
  });
  return {
    url,
    stop() {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The gateway on a free loopback port against `redisUrl`, with a known root token; `env` adds
 * to its environment (`QG_UPSTREAMS` and the upstreams' credentials, for the proxy).
 */
export async function startGateway(redisUrl, { ready = true, env = {} } = {}) {
  const port = await freePort();
  const rootToken = `sdk-root-${port}`;
  const child = spawn(binary, [], {
    env: {
      ...process.env,
      QG_LISTEN: `127.0.0.1:${port}`,
      QG_REDIS_URL: redisUrl,
      QG_ROOT_TOKEN: rootToken,
      QG_DRAIN_MS: "0",
      QG_LOG_FORMAT: "json",
      RUST_LOG: "warn",
      // The tests' webhook receivers listen on loopback over plain http.
      QG_WEBHOOK_ALLOW_HTTP: "true",
      QG_WEBHOOK_ALLOW_PRIVATE: "true",
      QG_WEBHOOK_RETRY_SCALE: "0.001",
      // Suites run side by side, so Redis may wait for a core: the suite's allowance (2 s in
      // scripts/test), as the Rust tests' gateways take it, rather than the 250 ms default.
      ...(process.env.QG_TEST_COMMAND_TIMEOUT_MS ? { QG_COMMAND_TIMEOUT_MS: process.env.QG_TEST_COMMAND_TIMEOUT_MS } : {}),
      ...env,
    },
    stdio: "ignore",
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const path = ready ? "/readyz" : "/livez";
  await until("the gateway", async () => (await fetch(baseUrl + path)).ok);
  return { baseUrl, rootToken, stop: () => child.kill("SIGTERM") };
}
