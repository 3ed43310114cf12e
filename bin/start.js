// Shared by the executables in bin/: checks the Node version, then runs a CLI. Plain JavaScript that any
// Node parses, so that an old Node gets this message rather than a syntax error.
import { existsSync } from "node:fs";

/** The oldest Node that runs lifeboat; package.json `engines.node` is `>=` this (a test checks both agree). */
export const MIN_NODE = "24.11.0";

/**
 * Exits with a clear message when this Node is older than MIN_NODE.
 * @param {string} program
 */
export function checkNode(program) {
  const have = process.versions.node.split(".").map(Number);
  const need = MIN_NODE.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > (need[i] ?? 0)) return;
    if ((have[i] ?? 0) < (need[i] ?? 0)) {
      console.error(`${program} needs Node.js ${MIN_NODE} or newer (24 LTS); this is ${process.version}.`);
      process.exit(1);
    }
  }
}

/**
 * Runs the product CLI under the name `program` (`lifeboat`, or `kubectl lifeboat` for the kubectl plugin).
 * In a checkout it runs the TypeScript sources (src/, by Node's type stripping); an installed package or
 * the image has only the compiled dist/ (Node does not strip types under node_modules).
 * @param {string} program
 */
export async function runProduct(program) {
  checkNode(program);
  const sources = new URL("../src/cli/main.ts", import.meta.url);
  const entry = existsSync(sources) ? sources : new URL("../dist/src/cli/main.js", import.meta.url);
  // The module is chosen at run time, so its type is not known here; main(argv, options) is src/cli/main.ts's.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
  const { main } = /** @type {{ main: (argv: string[], options: { name: string }) => Promise<number> }} */ (
    await import(entry.href)
  );
  process.exitCode = await main(process.argv, { name: program });
}
