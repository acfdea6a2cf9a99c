// Generates src/openapi.ts, the wire types, from the gateway's own /openapi.json (the gateway
// serves its document without Redis). `node scripts/types.mjs --check` fails when the
// committed file differs from what the current gateway generates.
import { readFileSync, writeFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import { startGateway } from "./gateway.mjs";

const target = new URL("../src/openapi.ts", import.meta.url);
const gateway = await startGateway("redis://127.0.0.1:1", { ready: false });
let generated;
try {
  const document = await (await fetch(`${gateway.baseUrl}/openapi.json`)).json();
  const ast = await openapiTS(document);
  generated =
    "// Generated from the gateway's /openapi.json by scripts/types.mjs: do not edit.\n\n" + astToString(ast);
} finally {
  gateway.stop();
}
if (process.argv.includes("--check")) {
  if (readFileSync(target, "utf8") !== generated) {
    console.error("src/openapi.ts is not what the gateway's document generates: run `npm run types`");
    process.exit(1);
  }
} else {
  writeFileSync(target, generated);
}
