// The package as npm would install it: `npm pack`, unpacked under node_modules/quota-gateway of
// a temporary directory that a test uses as a consumer's project.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = new URL("..", import.meta.url).pathname;

export function packed() {
  const dir = mkdtempSync(join(tmpdir(), "qg-pack-"));
  const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: root }).toString().trim();
  const unpacked = join(dir, "node_modules", "quota-gateway");
  mkdirSync(unpacked, { recursive: true });
  execFileSync("tar", ["-xzf", join(dir, tarball.split("\n").pop()), "-C", unpacked, "--strip-components=1"]);
  const manifest = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8"));
  return { dir, unpacked, manifest, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
