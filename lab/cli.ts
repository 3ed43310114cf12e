/**
 * `lifeboat-lab`: the lab's own CLI (bin/lifeboat-lab.js), a development tool apart from the product's
 * `lifeboat` CLI. The lab drives the controller as a user does: it runs `bin/lifeboat.js run` as a process.
 */
import { Command, CommanderError, Option } from "commander";

/** Builds the `lifeboat-lab` command tree. */
export function buildLabProgram(): Command {
  const lab = new Command("lifeboat-lab")
    .description(
      "the lab: a local control plane with simulated EKS spot nodes, an ALB simulator, load and scenarios",
    )
    .showHelpAfterError()
    .exitOverride();
  lab
    .command("demo")
    .description("start the lab, create a sample Deployment, print its nodes and pods, tear down")
    .option("--replicas <n>", "replicas of the sample Deployment", "6")
    .action(async (opts: { replicas: string }) => {
      const { runDemo } = await import("./demo.ts");
      await runDemo({ replicas: Number(opts.replicas), out: process.stdout });
    });
  lab
    .command("run")
    .description("run a scenario once per handler and write DIR/report.json and DIR/report.html")
    .argument(
      "<scenario>",
      "a scenario name (seed, seed-full, single-reclaim, az-reclaim, rebalance, capacity-starved, overlapping-reclaims, ...: lab/scenarios/) or a YAML path",
    )
    .addOption(
      new Option(
        "--handler <name>",
        "handler to run (repeatable): none, nth, nth-tuned (aws-node-termination-handler), lifeboat",
      )
        .choices(["none", "nth", "nth-tuned", "lifeboat"])
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .option("--out <dir>", "where to write report.json, report.html and the handlers' logs", "out/lab")
    .option(
      "--time-scale <s>",
      "real seconds per scenario second (default: the scenario's; 1.0 is the benchmark)",
    )
    .option(
      "--lifeboat-arg <flag>",
      "an extra flag for the lifeboat handler (repeatable), e.g. --lifeboat-arg=--early-node",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .action(
      async (
        name: string,
        opts: { handler?: string[]; out: string; timeScale?: string; lifeboatArg?: string[] },
      ) => {
        const { loadScenario } = await import("./scenarios/load.ts");
        const { runScenario } = await import("./run/run-scenario.ts");
        const scenario = await loadScenario(name);
        const timeScale = opts.timeScale === undefined ? undefined : Number(opts.timeScale);
        if (timeScale !== undefined && !(timeScale > 0))
          throw new Error(`--time-scale must be a number > 0, got '${String(opts.timeScale)}'`);
        const handlers = (opts.handler ?? ["none", "nth", "nth-tuned", "lifeboat"]) as (
          "none" | "nth" | "nth-tuned" | "lifeboat"
        )[];
        await runScenario({
          scenario,
          handlers,
          outDir: opts.out,
          lifeboatArgs: opts.lifeboatArg ?? [],
          ...(timeScale === undefined ? {} : { timeScale }),
          progress: (line) => {
            process.stdout.write(`${line}\n`);
          },
        });
        process.stdout.write(`report: ${opts.out}/report.json, ${opts.out}/report.html\n`);
      },
    );
  return lab;
}

/** Runs the lab CLI; resolves to the process exit code. */
export async function labMain(argv: readonly string[]): Promise<number> {
  try {
    await buildLabProgram().parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    console.error(`lifeboat-lab: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
