/**
 * The code stays in pieces one person can hold: no import circle in src/ or lab/, no product file past 450
 * lines, and no function past 80 lines unless a comment right above it says why it is long.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { glob } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "../..");
const MAX_FILE_LINES = 450;
const MAX_FUNCTION_LINES = 80;

async function sources(pattern: string): Promise<string[]> {
  const files: string[] = [];
  for await (const f of glob(pattern, { cwd: ROOT })) if (!f.endsWith(".test.ts")) files.push(f);
  return files.sort();
}

/** Relative imports of `file` (export ... from too), resolved to repository paths. */
function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest);
  const out: string[] = [];
  for (const s of sf.statements) {
    if (!(ts.isImportDeclaration(s) || ts.isExportDeclaration(s))) continue;
    const spec = s.moduleSpecifier;
    if (spec === undefined || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) continue;
    out.push(relative(ROOT, resolve(ROOT, dirname(file), spec.text)));
  }
  return out;
}

/** Every import circle among `files`, each as the list of files around it. */
function circles(files: readonly string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    path.push(f);
    for (const next of graph.get(f) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(f, "done");
  };
  for (const f of files) if (state.get(f) === undefined) visit(f);
  return found;
}

/** Functions of `file` longer than the limit with no comment right above them that says they are long. */
function longFunctions(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
      const lines = sf.getLineAndCharacterOfPosition(node.end).line - start + 1;
      const comments = (ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [])
        .map((r) => text.slice(r.pos, r.end))
        .join("\n");
      if (lines > MAX_FUNCTION_LINES && !/\blong\b/i.test(comments)) {
        const name = "name" in node && node.name !== undefined ? node.name.getText(sf) : "(anonymous)";
        out.push(`${file}:${start + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

test("no import circle in src/ or lab/", async () => {
  for (const tree of ["src/**/*.ts", "lab/**/*.ts"]) {
    const found = circles(await sources(tree));
    assert.deepEqual(
      found.map((c) => c.join(" -> ")),
      [],
      `${tree}: modules that import each other`,
    );
  }
});

test(`no file in src/ past ${MAX_FILE_LINES} lines`, async () => {
  const big = (await sources("src/**/*.ts"))
    .map((f) => ({ f, lines: readFileSync(join(ROOT, f), "utf8").split("\n").length }))
    .filter((x) => x.lines > MAX_FILE_LINES)
    .map((x) => `${x.f} (${x.lines} lines)`);
  assert.deepEqual(big, []);
});

test(`no function in src/ past ${MAX_FUNCTION_LINES} lines without a comment that says why it is long`, async () => {
  assert.deepEqual((await sources("src/**/*.ts")).flatMap(longFunctions), []);
});
