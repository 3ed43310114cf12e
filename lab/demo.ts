import type { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { conditionStatus, startLab } from "./lab.ts";
import { deployment } from "./workloads.ts";

/**
 * Starts the lab, creates a sample Deployment, waits until its pods are Ready (served by the pod runtime on
 * loopback), prints nodes and pods, and tears everything down.
 */
export async function runDemo(opts: { replicas: number; out: Writable }): Promise<void> {
  const print = (line = ""): void => {
    opts.out.write(`${line}\n`);
  };
  const t0 = performance.now();
  await using lab = await startLab({
    nodeGroups: [
      { name: "spot-a", zone: "us-east-1a", count: 2 },
      { name: "spot-b", zone: "us-east-1b", count: 2 },
      { name: "spot-c", zone: "us-east-1c", count: 2 },
    ],
  });
  print(`lab up in ${((performance.now() - t0) / 1000).toFixed(1)} s (kubeconfig ${lab.kubeconfigPath})`);
  await lab.apps.createNamespacedDeployment({
    namespace: "default",
    body: deployment({
      name: "web",
      replicas: opts.replicas,
      readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
      timings: { pullSeconds: 1 },
    }),
  });
  const t1 = performance.now();
  for (;;) {
    const d = await lab.apps.readNamespacedDeployment({ name: "web", namespace: "default" });
    if ((d.status?.readyReplicas ?? 0) >= opts.replicas) break;
    if (performance.now() - t1 > 60_000)
      throw new Error(`deployment web not Ready after 60 s: ${JSON.stringify(d.status)}`);
    await sleep(250);
  }
  print(
    `deployment web: ${opts.replicas}/${opts.replicas} Ready in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
  );
  print();
  const nodes = (await lab.core.listNode()).items;
  const pods = (await lab.core.listNamespacedPod({ namespace: "default" })).items;
  const rows: string[][] = [["NODE", "GROUP", "ZONE", "INSTANCE", "READY", "PODS"]];
  for (const n of nodes) {
    const name = n.metadata?.name ?? "";
    const labels = n.metadata?.labels ?? {};
    rows.push([
      name,
      labels["eks.amazonaws.com/nodegroup"] ?? "",
      labels["topology.kubernetes.io/zone"] ?? "",
      (n.spec?.providerID ?? "").split("/").pop() ?? "",
      conditionStatus(n, "Ready") ?? "?",
      String(pods.filter((p) => p.spec?.nodeName === name).length),
    ]);
  }
  printTable(rows, print);
  print();
  const podRows: string[][] = [["POD", "NODE", "IP", "READY", "SERVES ON"]];
  for (const p of pods) {
    const ip = p.status?.podIP ?? "";
    const addr = ip === "" ? null : lab.runtime.resolve(ip, 8080);
    podRows.push([
      p.metadata?.name ?? "",
      p.spec?.nodeName ?? "",
      ip,
      p.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "?",
      addr === null ? "-" : `${addr.host}:${addr.port}`,
    ]);
  }
  printTable(podRows, print);
  print();
  print("tearing down");
}

function printTable(rows: string[][], print: (line: string) => void): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    print(
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}
