import { existsSync, readFileSync } from "node:fs";

/**
 * The package version, read once from the package's package.json: two folders up from the sources
 * (src/cli/), three from the compiled files (dist/src/cli/).
 */
export const VERSION: string = readVersion();

function readVersion(): string {
  for (const up of ["../../package.json", "../../../package.json"]) {
    const url = new URL(up, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "lifeboat" && typeof pkg.version === "string") return pkg.version;
  }
  throw new Error(`lifeboat's package.json not found above ${import.meta.url}`);
}
