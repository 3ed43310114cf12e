/**
 * Declares every configuration field as a `lifeboat run` flag, grouped, with its help text, its env var and
 * its default in the help. Flags carry no commander default value on purpose: an unset flag must stay
 * undefined so that LIFEBOAT_* env vars can take precedence over the defaults (loadConfig applies those).
 */
import { Option } from "commander";
import type { Command } from "commander";
import { CONFIG_KEYS, FIELDS, envName, flagName } from "./schema.ts";

/** The help line of one field: meaning, then "(default: ...; env: ...)". */
export function flagHelp(key: (typeof CONFIG_KEYS)[number]): string {
  const { doc } = FIELDS[key];
  return `${doc.help} (default: ${doc.defaultText}; env: ${envName(key)})`;
}

export function registerRunFlags(command: Command): Command {
  for (const key of CONFIG_KEYS) {
    const { doc } = FIELDS[key];
    const option = new Option(`${flagName(key)} ${doc.value}`, flagHelp(key)).helpGroup(doc.group);
    command.addOption(option);
  }
  return command;
}
