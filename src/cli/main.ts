import { Command, CommanderError } from "commander";
import { VERSION } from "./version.ts";
import { ConfigError } from "../config/load.ts";
import { registerLabCommands } from "./lab-commands.ts";
import { registerRunCommand } from "./run-command.ts";
import { registerEvacuateCommand } from "./evacuate-command.ts";
import { registerPlanCommand } from "./plan-command.ts";
import { registerAgentCommand } from "./agent-command.ts";

/** Builds the `lifeboat` command tree. Exported for tests (`--help` output, argument errors). */
export function buildProgram(): Command {
  const program = new Command("lifeboat")
    .description(
      "Make-before-break evacuation of Kubernetes spot nodes: on an interruption notice, surge replacements,\n" +
        "wait until they are Ready and healthy in the load balancer, then retire the old pods, against the deadline.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .showHelpAfterError()
    .exitOverride();
  registerRunCommand(program);
  registerEvacuateCommand(program);
  registerPlanCommand(program);
  registerAgentCommand(program);
  registerLabCommands(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError) {
      console.error(`lifeboat: ${err.message}`);
      return 2;
    }
    console.error(`lifeboat: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
