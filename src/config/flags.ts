/**
 * Declares every configuration field as a `lifeboat run` flag, grouped, with its help text, its env var and
 * its default in the help. Flags carry no commander default value on purpose: an unset flag must stay
 * undefined so that LIFEBOAT_* env vars can take precedence over the defaults (loadConfig applies those).
 */
import { Option } from "commander";
import type { Command } from "commander";
import { CONFIG_KEYS, FIELDS, envName, flagName, type FieldDoc } from "./schema.ts";

/** The help line of one field: meaning, then "(default: ...; env: ...)". */
export function flagHelp(key: (typeof CONFIG_KEYS)[number]): string {
  const { doc } = FIELDS[key];
  return `${doc.help} (default: ${doc.defaultText}; env: ${envName(key)})`;
}

/**
 * Adds the fields as flags; `groups` limits them to some help groups (`lifeboat plan` takes only the
 * budgets, with the same names, env vars and checks as `lifeboat run`).
 */
export function registerRunFlags(command: Command, groups?: readonly FieldDoc["group"][]): Command {
  for (const key of CONFIG_KEYS) {
    const { doc } = FIELDS[key];
    if (groups !== undefined && !groups.includes(doc.group)) continue;
    const option = new Option(`${flagName(key)} ${doc.value}`, flagHelp(key)).helpGroup(doc.group);
    command.addOption(option);
  }
  return command;
}
