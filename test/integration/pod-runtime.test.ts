/**
 * The pod runtime against a real control plane: pods on lab nodes get an IP from the node's pod CIDR, serve
 * HTTP on loopback, turn Ready through their probe and readiness gates, terminate with preStop and SIGTERM, and
 * die with their node. Waits poll real time with a bound; nothing asserts on durations.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { request } from "node:http";
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { startLab } from "../../lab/lab.ts";
import type { RuntimeEvent, RuntimeLogger } from "../../lab/runtime/events.ts";
import { deployment } from "../../lab/workloads.ts";
import { waitFor } from "../helpers/wait.ts";

/** Waits in this file: bounded as before, polled as before. */
const WAIT = { timeoutMs: 30_000, intervalMs: 100 };

const GATE = "target-health.elbv2.k8s.aws/web-tgb";
const smp = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

interface LabPodSpec {
  name: string;
  node: string;
  preStopSeconds?: number;
  graceSeconds?: number;
  readinessGates?: string[];
}

function labPod(spec: LabPodSpec): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: spec.name,
      namespace: "default",
      labels: { app: "web" },
      annotations: { "lab.lifeboat.dev/pull-seconds": "2" },
    },
    spec: {
      nodeName: spec.node,
      terminationGracePeriodSeconds: spec.graceSeconds ?? 30,
      ...(spec.readinessGates === undefined
        ? {}
        : { readinessGates: spec.readinessGates.map((conditionType) => ({ conditionType })) }),
      containers: [
        {
          name: "app",
          image: "registry.example/app:1.0",
          ports: [{ name: "http", containerPort: 8080 }],
          readinessProbe: {
            httpGet: { path: "/api/health", port: 8080 },
            initialDelaySeconds: 2,
            periodSeconds: 1,
            failureThreshold: 2,
          },
          ...(spec.preStopSeconds === undefined
            ? {}
            : {
                lifecycle: { preStop: { exec: { command: ["sh", "-c", `sleep ${spec.preStopSeconds}`] } } },
              }),
        },
      ],
    },
  };
}

function conditionOf(pod: V1Pod, type: string): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === type)?.status;
}

async function podWhere(core: CoreV1Api, name: string, predicate: (pod: V1Pod) => boolean): Promise<V1Pod> {
  return waitFor(
    `pod ${name}`,
    async () => {
      const pod = await core.readNamespacedPod({ name, namespace: "default" });
      return predicate(pod) ? pod : undefined;
    },
    WAIT,
  );
}

function httpGet(host: string, port: number, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: "/", agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", reject);
    req.end();
  });
}

function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? "error");
    });
  });
}

test("pod runtime on a real control plane", { timeout: 240_000 }, async (t) => {
  const warnings: string[] = [];
  const log: RuntimeLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (fields, message) => warnings.push(`${message} ${JSON.stringify(fields)}`),
  };
  await using lab = await startLab({
    nodeGroups: [{ name: "ng-a", zone: "us-east-1a", count: 2 }],
    timeScale: 0.25,
    runtime: { log },
  });
  const runtime = lab.runtime;
  const events: RuntimeEvent[] = [];
  runtime.on("*", (event) => events.push(event));
  const [nodeA, nodeB] = lab.nodes.map((n) => n.name);
  assert.ok(nodeA !== undefined && nodeB !== undefined);
  await waitFor(
    "pod CIDRs on the nodes",
    async () => {
      const nodes = await Promise.all([lab.getNode(nodeA), lab.getNode(nodeB)]);
      return nodes.every((n) => n.spec?.podCIDR !== undefined) ? true : undefined;
    },
    WAIT,
  );

  await t.test("a pod gets an IP from its node's CIDR, serves HTTP on loopback and turns Ready", async () => {
    await lab.core.createNamespacedPod({
      namespace: "default",
      body: labPod({ name: "web-1", node: nodeA }),
    });
    const pod = await podWhere(lab.core, "web-1", (p) => conditionOf(p, "Ready") === "True");
    const node = await lab.getNode(nodeA);
    const cidrPrefix = (node.spec?.podCIDR ?? "").split(".").slice(0, 3).join(".");
    assert.equal(pod.status?.phase, "Running");
    assert.ok(
      pod.status?.podIP?.startsWith(`${cidrPrefix}.`),
      `${String(pod.status?.podIP)} in ${String(node.spec?.podCIDR)}`,
    );
    assert.equal(pod.status?.hostIP, node.status?.addresses?.find((a) => a.type === "InternalIP")?.address);
    assert.equal(pod.status?.containerStatuses?.[0]?.ready, true);
    assert.ok(pod.status?.containerStatuses?.[0]?.state?.running !== undefined);
    assert.equal(
      pod.status?.containerStatuses?.[0]?.state?.waiting,
      undefined,
      "the container status list is replaced, not merged",
    );
    const target = runtime.resolve(pod.status?.podIP ?? "", 8080);
    assert.ok(target !== null);
    const reply = await httpGet(target.host, target.port);
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.body) as { pod: string }).pod, "web-1");
    assert.ok(events.some((e) => e.kind === "pod-ready" && "name" in e && e.name === "web-1"));
  });

  await t.test("a Deployment's pods, bound by the scheduler, are run too", async () => {
    const body = deployment({
      name: "web-deploy",
      replicas: 2,
      preStopSeconds: null,
      readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
      timings: { pullSeconds: 1 },
    });
    await lab.apps.createNamespacedDeployment({ namespace: "default", body });
    const ready = await waitFor(
      "two Ready pods of the Deployment",
      async () => {
        const pods = await lab.core.listNamespacedPod({
          namespace: "default",
          labelSelector: "app=web-deploy",
        });
        const readyPods = pods.items.filter((p) => conditionOf(p, "Ready") === "True");
        return readyPods.length === 2 ? readyPods : undefined;
      },
      WAIT,
    );
    for (const pod of ready) assert.ok(runtime.explain(pod.status?.podIP ?? "", 8080)?.kind === "listener");
    await lab.apps.deleteNamespacedDeployment({ name: "web-deploy", namespace: "default" });
  });

  await t.test(
    "Ready waits for the readiness gate, and the gate's condition survives the runtime's writes",
    async () => {
      await lab.core.createNamespacedPod({
        namespace: "default",
        body: labPod({ name: "web-gated", node: nodeA, readinessGates: [GATE] }),
      });
      const waiting = await podWhere(
        lab.core,
        "web-gated",
        (p) => conditionOf(p, "ContainersReady") === "True",
      );
      assert.equal(conditionOf(waiting, "Ready"), "False");
      await lab.core.patchNamespacedPodStatus(
        {
          name: "web-gated",
          namespace: "default",
          body: {
            status: {
              conditions: [{ type: GATE, status: "True", lastTransitionTime: new Date().toISOString() }],
            },
          },
        },
        smp,
      );
      const ready = await podWhere(lab.core, "web-gated", (p) => conditionOf(p, "Ready") === "True");
      assert.equal(conditionOf(ready, GATE), "True");
    },
  );

  await t.test("deletion: preStop while serving, then SIGTERM, then the object is deleted", async () => {
    await lab.core.createNamespacedPod({
      namespace: "default",
      body: labPod({ name: "web-term", node: nodeB, preStopSeconds: 8 }),
    });
    const pod = await podWhere(lab.core, "web-term", (p) => conditionOf(p, "Ready") === "True");
    const ip = pod.status?.podIP ?? "";
    await lab.core.deleteNamespacedPod({ name: "web-term", namespace: "default" });
    await waitFor(
      "preStop to start",
      () =>
        Promise.resolve(
          events.some((e) => e.kind === "pod-terminating" && "name" in e && e.name === "web-term")
            ? true
            : undefined,
        ),
      WAIT,
    );
    const during = runtime.resolve(ip, 8080);
    assert.ok(during !== null);
    assert.equal((await httpGet(during.host, during.port)).status, 200, "still serving during preStop");
    await waitFor(
      "the runtime to finish the pod",
      () =>
        Promise.resolve(
          events.some((e) => e.kind === "pod-terminated" && "name" in e && e.name === "web-term")
            ? true
            : undefined,
        ),
      WAIT,
    );
    await waitFor(
      "the pod object to go",
      async () => {
        const found = await lab.core.readNamespacedPod({ name: "web-term", namespace: "default" }).then(
          () => true,
          () => false,
        );
        return found ? undefined : true;
      },
      WAIT,
    );
    const kinds = events.filter((e) => "name" in e && e.name === "web-term").map((e) => e.kind);
    assert.deepEqual(
      kinds.filter((k) => k === "pod-terminating" || k === "pod-sigterm" || k === "pod-terminated"),
      ["pod-terminating", "pod-sigterm", "pod-terminated"],
    );
    assert.equal(runtime.explain(ip, 8080)?.kind, "refused");
  });

  await t.test("a dead node refuses, then swallows connections, and its pods stay Terminating", async () => {
    await lab.core.createNamespacedPod({
      namespace: "default",
      body: labPod({ name: "web-doomed", node: nodeB }),
    });
    // Its twin on the live node: deleted right after it, it shows when the runtime has dealt with both.
    await lab.core.createNamespacedPod({
      namespace: "default",
      body: labPod({ name: "web-twin", node: nodeA }),
    });
    await podWhere(lab.core, "web-twin", (p) => conditionOf(p, "Ready") === "True");
    const pod = await podWhere(lab.core, "web-doomed", (p) => conditionOf(p, "Ready") === "True");
    const ip = pod.status?.podIP ?? "";
    runtime.killNode(nodeB, "refuse");
    const refused = runtime.resolve(ip, 8080);
    assert.ok(refused !== null);
    assert.equal(await connectOutcome(refused.host, refused.port), "ECONNREFUSED");
    runtime.killNode(nodeB, "blackhole");
    const silent = runtime.resolve(ip, 8080);
    assert.ok(silent !== null);
    await assert.rejects(
      httpGet(silent.host, silent.port, 300),
      (err: NodeJS.ErrnoException) => err.code === "TIMEOUT",
    );
    await lab.core.deleteNamespacedPod({ name: "web-doomed", namespace: "default" });
    await lab.core.deleteNamespacedPod({ name: "web-twin", namespace: "default" });
    // The runtime reads both deletions in order; once it has finished the twin, it has seen the doomed one.
    await waitFor(
      "the runtime to finish the twin on the live node",
      () =>
        events.some((e) => e.kind === "pod-terminated" && "name" in e && e.name === "web-twin")
          ? true
          : undefined,
      WAIT,
    );
    assert.deepEqual(
      events.filter((e) => "name" in e && e.name === "web-doomed" && e.kind.startsWith("pod-termin")),
      [],
      "no termination started on the dead node",
    );
    const stuck = await lab.core.readNamespacedPod({ name: "web-doomed", namespace: "default" });
    assert.ok(
      stuck.metadata?.deletionTimestamp !== undefined,
      "the pod is Terminating and nobody finishes it",
    );
    assert.equal(conditionOf(stuck, "Ready"), "True", "a dead kubelet writes no status");
  });

  assert.deepEqual(warnings, [], "no API write failed");
  // Every pod the runtime started and that is gone now was deleted by the runtime itself (pod-terminated).
  const existing = new Set(
    (await lab.core.listNamespacedPod({ namespace: "default" })).items.map((p) => p.metadata?.uid),
  );
  const finished = new Set(
    events.filter((e) => e.kind === "pod-terminated").map((e) => ("uid" in e ? e.uid : "")),
  );
  assert.deepEqual(
    events
      .filter((e) => e.kind === "pod-running" && !existing.has(e.uid) && !finished.has(e.uid))
      .map((e) => ("name" in e ? e.name : "")),
    [],
    "no pod was deleted behind the runtime's back",
  );
});
