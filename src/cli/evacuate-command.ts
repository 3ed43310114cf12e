import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { Command } from "commander";
import { toKubeApiError } from "../actuators/kube/errors.ts";
import { systemClock } from "../domain/clock.ts";
import { EVACUATE_ANNOTATION, parseDeadline } from "../signals/manual/manual.ts";
import { addKubeAccessOptions, checkReachable, loadKubeConfig, type KubeAccessOptions } from "./kube.ts";
import { addOutputOption, render, type OutputFormat } from "./output.ts";

/**
 * `lifeboat evacuate NODE --deadline 2m`: asks the running controller to evacuate a node, by annotating it
 * with the absolute deadline (`lifeboat.dev/evacuate: <RFC 3339>`), the same thing a user or a maintenance
 * script may do with kubectl. Durable: the controller acts on it when it (or its successor) sees it.
 */
export function registerEvacuateCommand(program: Command): void {
  const command = program
    .command("evacuate")
    .description(
      "evacuate a node make-before-break (planned maintenance, tests): annotates it for the controller",
    )
    .argument("<node>", "node name")
    .option(
      "--deadline <when>",
      'when the node goes away: "now", a duration ("2m", "90s", "1h30m") or an RFC 3339 time',
      "2m",
    );
  addKubeAccessOptions(command);
  addOutputOption(command);
  command.action(
    async (node: string, opts: KubeAccessOptions & { deadline: string; output: OutputFormat }) => {
      const deadline = new Date(parseDeadline(opts.deadline, systemClock.now())).toISOString();
      const loaded = loadKubeConfig(opts);
      await checkReachable(loaded, systemClock);
      const core = loaded.kubeConfig.makeApiClient(CoreV1Api);
      await core
        .patchNode(
          { name: node, body: { metadata: { annotations: { [EVACUATE_ANNOTATION]: deadline } } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        )
        .catch((err: unknown) => {
          throw toKubeApiError(err, "annotate", `node/${node}`);
        });
      const data = { node, annotation: EVACUATE_ANNOTATION, deadline };
      process.stdout.write(
        render(opts.output, data, () => [
          `node/${node} annotated ${EVACUATE_ANNOTATION}=${deadline}; the controller evacuates it (lifeboat get)`,
        ]),
      );
    },
  );
}
