/**
 * `-o json|yaml|table` for the commands a user runs from a laptop, as kubectl has: `table` for people,
 * `json` and `yaml` (the same data) for scripts.
 */
import { Option, type Command } from "commander";
import { stringify } from "yaml";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Adds `-o, --output <format>` (default table). */
export function addOutputOption(command: Command): Command {
  return command.addOption(
    new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"),
  );
}

/** The text to print: `data` as JSON or YAML, or the table lines. */
export function render(format: OutputFormat, data: unknown, table: () => string[]): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(data, null, 2)}\n`;
    case "yaml":
      return stringify(data);
    case "table":
      return table()
        .map((l) => `${l}\n`)
        .join("");
  }
}

/** Aligned columns, like kubectl's tables: a header row, then one row per item. */
export function columns(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
