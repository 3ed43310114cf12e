import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { CONFIG_KEYS } from "./schema.ts";
import { EVACUATION_CRD_PATH } from "./crd-path.ts";
import {
  BEGIN_MARKER,
  CHART_VALUES_PATH,
  END_MARKER,
  FLAGS_DOC_PATH,
  VALUES_BEGIN,
  VALUES_END,
  renderFlagsTable,
  renderValuesConfig,
  replaceBetween,
} from "./docs.ts";

const chartFile = (path: string): string =>
  fileURLToPath(new URL(`../../charts/lifeboat/${path}`, import.meta.url));

test("docs/flags.md holds the table generated from the schema (regenerate: node src/config/docs.ts --write)", () => {
  const doc = readFileSync(FLAGS_DOC_PATH, "utf8");
  assert.equal(doc, replaceBetween(doc, BEGIN_MARKER, END_MARKER, renderFlagsTable()));
});

test("values.yaml holds the config block generated from the schema", () => {
  const values = readFileSync(CHART_VALUES_PATH, "utf8");
  assert.equal(values, replaceBetween(values, VALUES_BEGIN, VALUES_END, renderValuesConfig()));
});

test("values.yaml has exactly one config value per controller setting", () => {
  const values = parse(readFileSync(CHART_VALUES_PATH, "utf8")) as { config: Record<string, unknown> };
  assert.deepEqual(Object.keys(values.config).sort(), [...CONFIG_KEYS].sort());
});

test("the chart ships the same CRD as deploy/crds", () => {
  assert.equal(
    readFileSync(chartFile("crds/lifeboat.dev_evacuations.yaml"), "utf8"),
    readFileSync(EVACUATION_CRD_PATH, "utf8"),
  );
});

test("the lifeboat-crd chart's template is deploy/crds' CRD plus the keep annotation", () => {
  const template = readFileSync(
    fileURLToPath(
      new URL("../../charts/lifeboat-crd/templates/lifeboat.dev_evacuations.yaml", import.meta.url),
    ),
    "utf8",
  );
  const lines = template.split("\n");
  const start = lines.indexOf("  annotations:");
  const end = lines.indexOf("  labels:");
  assert.ok(start > 0 && end > start, "an annotations block right before the labels");
  assert.match(lines.slice(start, end).join("\n"), /^ {4}helm\.sh\/resource-policy: keep$/m);
  const withoutAnnotations = [...lines.slice(1, start), ...lines.slice(end)].join("\n");
  assert.equal(withoutAnnotations, readFileSync(EVACUATION_CRD_PATH, "utf8"));
});

test("replaceBetween keeps the markers and refuses a file without them", () => {
  assert.equal(replaceBetween("a\n<b>\nold\n<e>\nz", "<b>", "<e>", "new"), "a\n<b>\nnew\n<e>\nz");
  assert.throws(() => replaceBetween("nothing", "<b>", "<e>", "x"), /markers/);
});
