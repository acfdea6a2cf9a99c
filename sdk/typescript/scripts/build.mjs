// Two tsc builds: ESM (dist/esm) and CommonJS (dist/cjs, marked so by its own package.json).
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

const tsc = new URL("../node_modules/typescript/bin/tsc", import.meta.url).pathname;
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
for (const [module, resolution, dir] of [["ES2020", "Bundler", "dist/esm"], ["CommonJS", "Node10", "dist/cjs"]]) {
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.json", "--module", module, "--moduleResolution", resolution, "--outDir", dir], { stdio: "inherit" });
}
mkdirSync(new URL("../dist/cjs", import.meta.url), { recursive: true });
writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{ "type": "commonjs" }\n');
