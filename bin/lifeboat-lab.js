#!/usr/bin/env node
// The lab's CLI (`lifeboat-lab run SCENARIO`, `lifeboat-lab demo`): a development tool, run from a checkout
// by Node's type stripping. It is not part of the product's package.
import { checkNode } from "./start.js";
checkNode("lifeboat-lab");
const { labMain } = /** @type {{ labMain: (argv: string[]) => Promise<number> }} */ (
  await import("../lab/cli.ts")
);
process.exitCode = await labMain(process.argv);
