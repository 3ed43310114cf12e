import { Command, CommanderError } from "commander";
import { VERSION } from "./version.ts";
import { ConfigError } from "../config/load.ts";
import { registerRunCommand } from "./run-command.ts";
import { registerEvacuateCommand } from "./evacuate-command.ts";
import { registerPlanCommand } from "./plan-command.ts";
import { registerGetCommand } from "./get-command.ts";
import { KubeConfigError } from "./kube.ts";
import { errorMessage } from "../domain/error-message.ts";

/** How the CLI was started: `lifeboat`, or `kubectl lifeboat` (the kubectl plugin, bin/kubectl-lifeboat.js). */
export interface ProgramOptions {
  name: string;
}
import { registerAgentCommand } from "./agent-command.ts";

/** Builds the `lifeboat` command tree. Exported for tests (`--help` output, argument errors). */
export function buildProgram(options: ProgramOptions = { name: "lifeboat" }): Command {
  const program = new Command(options.name)
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
  registerGetCommand(program);
  registerAgentCommand(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(
  argv: readonly string[],
  options: ProgramOptions = { name: "lifeboat" },
): Promise<number> {
  const program = buildProgram(options);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError || err instanceof KubeConfigError) {
      console.error(`${options.name}: ${err.message}`);
      return 2;
    }
    console.error(`${options.name}: ${errorMessage(err)}`);
    return 1;
  }
}
