/**
 * The npm package as a user gets it: `npm pack` alone (prepack compiles dist/) makes a tarball that holds
 * the compiled product and no lab, sources or tests; installed into an empty folder it runs `lifeboat
 * --version` and `lifeboat --help` on Node 24, from node_modules (where Node does not strip types), and
 * `kubectl lifeboat` finds it as a kubectl plugin.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { labBinaries } from "../../lab/controlplane/binaries.ts";

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
let dir: string;
let files: string[];
let pkg: { version: string; engines: { node: string }; bin: Record<string, string> };
/** PATH with the installed package's executables and Node 24 first. */
let path: string;

before(async () => {
  pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as typeof pkg;
  dir = await mkdtemp(join(tmpdir(), "lifeboat-pack-"));
  const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [
    { filename: string; files: { path: string }[] },
  ];
  files = packed.files.map((f) => f.path);
  const install = join(dir, "install");
  await exec("mkdir", [install]);
  await writeFile(join(install, "package.json"), JSON.stringify({ name: "empty", private: true }));
  await exec(
    "npm",
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      join(dir, packed.filename),
    ],
    { cwd: install },
  );
  path = [join(install, "node_modules", ".bin"), dirname(process.execPath), process.env["PATH"] ?? ""].join(
    delimiter,
  );
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the tarball holds the compiled product (with source maps) and no lab, sources or tests", () => {
  assert.ok(files.includes("dist/src/cli/main.js"));
  assert.ok(files.includes("dist/src/cli/main.js.map"));
  assert.ok(files.includes("dist/common/clock.js"));
  const allowed =
    /^(dist\/(src|common)\/.*\.js(\.map)?|bin\/(lifeboat|kubectl-lifeboat|start)\.js|package\.json|README\.md|CHANGELOG\.md)$/;
  assert.deepEqual(
    files.filter((f) => !allowed.test(f)),
    [],
    "nothing else",
  );
  assert.deepEqual(
    files.filter((f) => /(^|\/)(lab|test|bench)\/|\.test\.|lifeboat-lab|\.ts$/.test(f)),
    [],
    "no lab, tests or TypeScript sources",
  );
});

test("engines.node and the executables' own Node check name the same version", async () => {
  const start = await readFile(join(ROOT, "bin", "start.js"), "utf8");
  const min = /export const MIN_NODE = "([\d.]+)"/.exec(start)?.[1];
  assert.equal(pkg.engines.node, `>=${min ?? "?"}`);
  assert.ok(
    Number(process.versions.node.split(".")[0]) >= 24,
    "these tests run on Node 24 (scripts/test's pinned Node)",
  );
});

test("installed from the tarball into an empty folder: lifeboat --version and --help run from node_modules", async () => {
  const installed = join(dir, "install", "node_modules", "lifeboat");
  assert.ok(!existsSync(join(installed, "src")), "no TypeScript sources: the compiled dist/ runs");
  const env = { PATH: path, HOME: dir };
  const version = await exec("lifeboat", ["--version"], { env });
  assert.equal(version.stdout.trim(), pkg.version);
  const help = await exec("lifeboat", ["--help"], { env });
  for (const command of ["run", "evacuate", "plan", "get"])
    assert.match(help.stdout, new RegExp(`\\n  ${command} `));
  assert.doesNotMatch(help.stdout, /\n {2}lab /, "the lab is not a product command");
});

test("kubectl finds the installed kubectl-lifeboat as a plugin: `kubectl lifeboat --help`", async () => {
  const env = { PATH: path, HOME: dir };
  const { stdout } = await exec(labBinaries().kubectl, ["lifeboat", "--help"], { env });
  assert.match(stdout, /^Usage: kubectl lifeboat /);
  const version = await exec(labBinaries().kubectl, ["lifeboat", "--version"], { env });
  assert.equal(version.stdout.trim(), pkg.version);
});
