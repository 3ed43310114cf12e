/**
 * Reads deploy/cloudformation/lifeboat.yaml as data: CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt,
 * !If, ...) become their long form ({ "Fn::Sub": ... }), as CloudFormation itself reads them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, type Tags } from "yaml";

export const TEMPLATE_FILE = join(
  import.meta.dirname,
  "..",
  "..",
  "deploy",
  "cloudformation",
  "lifeboat.yaml",
);

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}

export interface CfnTemplate {
  Parameters: Record<string, Record<string, unknown>>;
  Resources: Record<string, CfnResource>;
  Outputs: Record<string, Record<string, unknown>>;
}

const FUNCTIONS = ["Ref", "Sub", "GetAtt", "If", "Not", "Equals", "Join", "Select", "Split", "And", "Or"];

const cfnTags: Tags = FUNCTIONS.flatMap((fn) => {
  const key = fn === "Ref" ? "Ref" : `Fn::${fn}`;
  const wrap = (value: unknown): Record<string, unknown> => ({
    [key]: fn === "GetAtt" && typeof value === "string" ? value.split(".") : value,
  });
  return [
    { tag: `!${fn}`, resolve: (value: string) => wrap(value) },
    {
      tag: `!${fn}`,
      collection: "seq" as const,
      resolve: (value: unknown) => wrap((value as { toJSON(): unknown }).toJSON()),
    },
    {
      tag: `!${fn}`,
      collection: "map" as const,
      resolve: (value: unknown) => wrap((value as { toJSON(): unknown }).toJSON()),
    },
  ];
});

export function readTemplate(path = TEMPLATE_FILE): CfnTemplate {
  return parse(readFileSync(path, "utf8"), { customTags: cfnTags }) as CfnTemplate;
}
