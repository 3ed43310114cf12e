#!/usr/bin/env node
// The lifeboat CLI. The sources are TypeScript run by Node's type stripping (Node 22.18+; the project pins 24).
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`lifeboat needs Node.js 22.18 or newer (24 LTS recommended); this is ${process.version}.`);
  console.error(
    "Run it through scripts/demo or scripts/test, which fetch the pinned Node, or put Node 24 on PATH.",
  );
  process.exit(1);
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
