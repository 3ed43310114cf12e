// @ts-check
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["node_modules/", ".cache/", ".lab/", "out/", "charts/", "dist/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["bin/*.js", "eslint.config.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unnecessary-condition": "off",
      // client-node's models are classes whose instances are plain data; object literals are how every
      // client-node user builds them, and spreading them is how one copies them.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      "@typescript-eslint/no-misused-spread": "off",
      // `await using _x = ...` keeps a resource alive for its scope without reading it.
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^_", argsIgnorePattern: "^_" }],
      "no-restricted-syntax": [
        "error",
        { selector: "ExportDefaultDeclaration", message: "No default exports: name what you export." },
      ],
      "no-restricted-properties": [
        "error",
        {
          object: "Date",
          property: "now",
          message: "Use the injected Clock (common/clock.ts, re-exported by src/domain/clock.ts).",
        },
      ],
      "no-restricted-globals": [
        "error",
        {
          name: "setTimeout",
          message: "Use the injected Clock (common/clock.ts, re-exported by src/domain/clock.ts).",
        },
        {
          name: "setInterval",
          message: "Use the injected Clock (common/clock.ts, re-exported by src/domain/clock.ts).",
        },
      ],
    },
  },
  {
    files: ["common/clock.ts", "lab/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "**/*.test.ts"],
    rules: { "no-restricted-properties": "off", "no-restricted-globals": "off" },
  },
  // Two programs: the product (src/, shipped) and the lab (lab/, a development tool). Neither imports the
  // other; what both need lives in common/.
  {
    files: ["src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: "(^|/)(lab|test|bench)/", message: "The product does not import the lab or tests." },
          ],
        },
      ],
    },
  },
  {
    files: ["lab/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "(^|/)src/",
              message:
                "The lab drives the product as a user does (bin/lifeboat.js); shared code lives in common/.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["common/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ regex: "(^|/)(src|lab|test|bench)/", message: "common/ stands alone." }] },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
    },
  },
  { files: ["eslint.config.js"], rules: { "no-restricted-syntax": "off" } },
  { files: ["bin/*.js"], languageOptions: { globals: globals.node } },
);
