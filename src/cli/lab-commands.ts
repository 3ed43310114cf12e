import type { Command } from "commander";

/** `lifeboat lab ...`: the lab (a real control plane with simulated spot nodes) as a user drives it. */
export function registerLabCommands(program: Command): void {
  const lab = program.command("lab").description("run the lab: a local control plane with simulated EKS spot nodes");
  lab
    .command("demo")
    .description("start the lab, create a sample Deployment, print its nodes and pods, tear down")
    .option("--replicas <n>", "replicas of the sample Deployment", "6")
    .action(async (opts: { replicas: string }) => {
      const { runDemo } = await import("../../lab/demo.ts");
      await runDemo({ replicas: Number(opts.replicas), out: process.stdout });
    });
}
