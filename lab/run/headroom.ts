/** Before time zero: the steady state a real cluster has, with the handler's headroom in place. */
import { CloudSimulator } from "../cloud/cloud.ts";
import { cloudLabOf, pendingPods } from "../cloud/kube.ts";
import type { LabEnv } from "../harness/env.ts";
import type { HandlerRun } from "./handler-run.ts";
import { PLACEHOLDER_LABEL } from "./observer.ts";
import { pollUntil } from "./poll.ts";

/** Where lifeboat keeps its headroom placeholders (its --headroom-namespace default, the chart's namespace). */
export const HEADROOM_NAMESPACE = "lifeboat-system";

/**
 * Runs the cloud's autoscaler (no events) until the handler's headroom placeholder Deployments exist and every
 * placeholder runs. Gives up waiting (and says so) after the time a node takes to be asked for and join,
 * twice over.
 */
export async function settleHeadroom(run: HandlerRun, env: LabEnv): Promise<void> {
  const { scenario, timeScale, progress } = run;
  const { lab } = env;
  const settings = scenario.cloud;
  await using pre = new CloudSimulator({
    lab: cloudLabOf(lab),
    send: () => Promise.resolve(),
    hooks: {
      killNode: () => undefined,
      pendingPods: () => pendingPods(lab.core),
      ...(env.asgs === null ? {} : { asg: env.asgs.hooks }),
    },
    settings,
    nodeGroups: scenario.cluster.nodeGroups,
    events: [],
    timeScale,
  });
  pre.start();
  const started = performance.now();
  const planSeconds = 10;
  const limitSeconds = 2 * (settings.autoscaler.reactSeconds + settings.nodeJoinSeconds) + 60;
  progress(
    `[lifeboat] waiting for its headroom placeholders to run (at most ${Math.round(limitSeconds * timeScale)} s)`,
  );
  let placed = "no placeholder Deployment";
  try {
    await pollUntil("headroom placeholders running", limitSeconds * timeScale * 1000, async () => {
      const list = await lab.apps.listNamespacedDeployment({
        namespace: HEADROOM_NAMESPACE,
        labelSelector: PLACEHOLDER_LABEL,
      });
      if (list.items.length === 0)
        return performance.now() - started > planSeconds * Math.max(timeScale, 0.5) * 1000;
      const want = list.items.reduce((n, d) => n + (d.spec?.replicas ?? 0), 0);
      const ready = list.items.reduce((n, d) => n + (d.status?.readyReplicas ?? 0), 0);
      placed = `${ready}/${want} placeholders Ready in ${list.items.length} Deployment(s)`;
      return ready >= want && pre.launching === 0;
    });
    progress(`[lifeboat] headroom in place: ${placed}`);
  } catch {
    progress(`[lifeboat] headroom not in place before time zero: ${placed}`);
  }
}
