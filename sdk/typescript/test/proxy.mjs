// A loopback HTTP stand-in in front of the gateway, as a load balancer would fail: for each
// request, in order, `behave(n, seen)` says to forward it (holding the answer back `delayMs`,
// or dropping the connection once the gateway has answered: the call ran, its answer is lost),
// to answer for the gateway (`status`, `body`, `headers`: a proxy's HTML page), or to drop the
// connection unanswered. Every wait is bounded, and `close()` ends them all.
import { createServer } from "node:http";

const MAX_DELAY_MS = 20_000;
const HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"]);

export const html = (status, extra = {}) => ({
  status,
  body: `<html><head><title>${status}</title></head><body><h1>${status}</h1><hr>nginx</body></html>`,
  headers: { "content-type": "text/html", ...extra },
});

export async function standIn(target, behave = () => ({})) {
  const seen = [];
  const sockets = new Set();
  const timers = new Set();
  const wait = (ms) => new Promise((done) => {
    const timer = setTimeout(() => { timers.delete(timer); done(); }, Math.min(ms, MAX_DELAY_MS));
    timers.add(timer);
  });
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const entry = { method: req.method, path: req.url, key: req.headers["idempotency-key"] ?? null, at: Date.now() };
    const action = behave(seen.length, entry) ?? {};
    seen.push(entry);
    if (action.drop) return req.socket.destroy();
    if (action.status) {
      res.writeHead(action.status, action.headers ?? {});
      return res.end(action.body ?? "");
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP.has(k)));
    const upstream = await fetch(target + req.url, { method: req.method, headers, body: body.length ? body : undefined });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (action.delayMs) await wait(action.delayMs);
    if (action.dropAfter || res.destroyed) return req.socket.destroy();
    const back = {};
    upstream.headers.forEach((v, k) => { if (!HOP.has(k) && k !== "content-encoding") back[k] = v; });
    res.writeHead(upstream.status, back);
    res.end(answer);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    keys: () => seen.map((s) => s.key),
    close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      return new Promise((done) => server.close(done));
    },
  };
}
