/**
 * What the controller's informer cache costs in memory at cluster sizes the lab takes too long to build
 * (30,000 pods: 20 minutes of setup), without a lab: the real ClusterCache (client-node's list+watch, its
 * deserializer, trim.ts, the ListWatch store, views.ts) against a stand-in API server in a process of its
 * own, serving objects shaped like what the kube-apiserver sends for the scale bench's (npm run bench:scale)
 * KWOK nodes and Deployment pods: ownerReferences to a ReplicaSet, pod-template-hash, a container with
 * resources and probes, the service-account volume, tolerations, status with every condition, podIP,
 * hostIP, startTime, containerStatuses, and the managedFields of kube-controller-manager and kwok.
 *
 *   npm run bench:memory -- [--sizes 100,300,1000] [--pods-per-node 30] [--share 0.1]
 *
 * Per size (nodes; pods = nodes x 30), in a fresh process (node --expose-gc) so that sizes do not share a
 * heap: the cache lists everything (pages of 500, as the controller does), a snapshot is taken as the
 * reconciler does, then `--share` of the nodes go through an AZ event by watch (each node cordoned and
 * tainted, each of its pods MODIFIED twice: a deletion-cost annotation, then a deletionTimestamp) and a
 * second snapshot is taken. After each phase: global.gc(), then heapUsed, external, arrayBuffers and RSS,
 * and bytes per pod (heap above the process's baseline before the cache, over the pod count). VmHWM is the
 * process's peak RSS with the heap V8 picks on this machine (no --max-old-space-size unless given in
 * NODE_OPTIONS): compare it with the chart's limit only with the chart's heap setting, e.g.
 *   node --expose-gc --max-old-space-size=256 --max-semi-space-size=8 bench/memory.ts --sizes 1000
 * (the measured process takes this process's flags; the stand-in server runs with none).
 *
 * The stand-in does not replay events from a resourceVersion: a watch the informer reopened mid-event would
 * miss the rest. One run (50,000 pods, machine at load 10) once stalled waiting for the event's watch events,
 * cause not found; a run now fails after 120 s saying how many arrived: run it again.
 *
 * Prints a table and the last line (figures of the largest size, after the AZ event):
 *   memory: pods=N heap_mb=X rss_mb=X bytes_per_pod=N
 */
import { fork, spawn } from "node:child_process";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { ClusterCache } from "../src/cluster/cluster-cache.ts";
import { silentClusterLogger } from "../src/cluster/logger.ts";
import { systemClock } from "../src/domain/clock.ts";
import type { ClusterSnapshot } from "../src/domain/snapshot.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "100,300,1000" },
    "pods-per-node": { type: "string", default: "30" },
    share: { type: "string", default: "0.1" },
    role: { type: "string", default: "main" },
    nodes: { type: "string", default: "0" },
  },
});
const podsPerNode = Number(values["pods-per-node"]);
const share = Number(values.share);
const NS = "default";
const DEPLOYMENT_SIZES = [3, 5, 10, 20, 40, 60];
const STATEFULSET_REPLICAS = 5;
const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];
const T0 = Date.parse("2026-11-29T10:00:00Z");
const MB = 1024 * 1024;

// ---- the cluster the stand-in serves -----------------------------------------------------------------------

interface Workload {
  kind: "Deployment" | "StatefulSet";
  name: string;
  replicas: number;
  hash: string;
  uid: string;
  rsUid: string;
  pdb: boolean;
}

/** The scale bench's mix: max(3, nodes/100) StatefulSets of 5, Deployments of 3 to 60 replicas. */
function workloadsFor(nodes: number): Workload[] {
  const total = nodes * podsPerNode;
  const out: Workload[] = [];
  const statefulSets = Math.max(3, Math.round(nodes / 100));
  let left = total;
  for (let i = 0; i < statefulSets; i++) {
    out.push(workload("StatefulSet", `db-${i}`, STATEFULSET_REPLICAS, out.length, true));
    left -= STATEFULSET_REPLICAS;
  }
  for (let i = 0; left > 0; i++) {
    const replicas = Math.min(left, DEPLOYMENT_SIZES[i % DEPLOYMENT_SIZES.length] ?? 10);
    out.push(workload("Deployment", `app-${i}`, replicas, out.length, i % 3 === 0));
    left -= replicas;
  }
  return out;
}

function workload(kind: Workload["kind"], name: string, replicas: number, i: number, pdb: boolean): Workload {
  return { kind, name, replicas, hash: hex(i * 7919 + 13, 10), uid: uid(1, i), rsUid: uid(2, i), pdb };
}

function hex(n: number, len: number): string {
  let h = (Math.imul(n + 1, 2_654_435_761) >>> 0).toString(16);
  while (h.length < len) h += (Math.imul(h.length + n, 40_503) >>> 0).toString(16);
  return h.slice(0, len);
}

function uid(kind: number, i: number): string {
  const h = hex(kind * 1_000_003 + i, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function time(offsetS: number): string {
  return new Date(T0 + offsetS * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

function nodeName(i: number): string {
  return `ip-10-${Math.floor(i / 250)}-${i % 250}-${4 + (i % 7)}.ec2.internal`;
}

function nodeObject(i: number, rv: number, cordoned = false): object {
  const name = nodeName(i);
  const zone = ZONES[i % ZONES.length] ?? "us-east-1a";
  const id = `i-${hex(i, 17)}`;
  return {
    kind: "Node",
    apiVersion: "v1",
    metadata: {
      name,
      uid: uid(3, i),
      resourceVersion: String(rv),
      creationTimestamp: time(0),
      labels: {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "eks.amazonaws.com/capacityType": "SPOT",
        "eks.amazonaws.com/nodegroup": `spot-${zone}`,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "lifeboat.dev/lab-node": "true",
        "node.kubernetes.io/instance-type": "m5.xlarge",
        "topology.kubernetes.io/region": "us-east-1",
        "topology.kubernetes.io/zone": zone,
      },
      annotations: {
        "kwok.x-k8s.io/node": "fake",
        "lab.lifeboat.dev/instance-id": id,
        "node.alpha.kubernetes.io/ttl": "0",
      },
      managedFields: [
        {
          manager: "lab",
          operation: "Update",
          apiVersion: "v1",
          time: time(0),
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": {
              "f:annotations": { ".": {}, "f:kwok.x-k8s.io/node": {} },
              "f:labels": { ".": {} },
            },
            "f:spec": { "f:providerID": {} },
          },
        },
        {
          manager: "kwok",
          operation: "Update",
          apiVersion: "v1",
          time: time(5),
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:status": { "f:addresses": {}, "f:allocatable": {}, "f:capacity": {}, "f:conditions": {} },
          },
          subresource: "status",
        },
      ],
    },
    spec: {
      providerID: `aws:///${zone}/${id}`,
      ...(cordoned
        ? {
            unschedulable: true,
            taints: [
              { key: "lifeboat.dev/evacuating", value: "spot-interruption", effect: "NoSchedule" },
              { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule", timeAdded: time(600) },
            ],
          }
        : {}),
    },
    status: {
      capacity: { cpu: "4", memory: "15743Mi", pods: "58" },
      allocatable: { cpu: "3920m", memory: "14783Mi", pods: "58" },
      conditions: ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"].map(
        (type) => ({
          type,
          status: type === "Ready" ? "True" : "False",
          lastHeartbeatTime: time(590),
          lastTransitionTime: time(5),
          reason: type === "Ready" ? "KubeletReady" : `KubeletHasNo${type}`,
          message: type === "Ready" ? "kubelet is posting ready status" : `kubelet has no ${type}`,
        }),
      ),
      addresses: [
        { type: "InternalIP", address: `10.${Math.floor(i / 250)}.${i % 250}.${4 + (i % 7)}` },
        { type: "Hostname", address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: "",
        systemUUID: "",
        bootID: "",
        kernelVersion: "",
        osImage: "",
        containerRuntimeVersion: "",
        kubeletVersion: "fake",
        kubeProxyVersion: "fake",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}

interface PodSlot {
  w: Workload;
  ordinal: number;
  node: number;
}

/** Pods round-robin over the nodes, workload by workload. */
function podSlots(ws: readonly Workload[], nodes: number): PodSlot[] {
  const out: PodSlot[] = [];
  for (const w of ws)
    for (let k = 0; k < w.replicas; k++) out.push({ w, ordinal: k, node: out.length % nodes });
  return out;
}

function podObject(s: PodSlot, i: number, rv: number, phase: 0 | 1 | 2 = 0): object {
  const { w } = s;
  const deployment = w.kind === "Deployment";
  const name = deployment ? `${w.name}-${w.hash}-${hex(i, 5)}` : `${w.name}-${s.ordinal}`;
  const owner = deployment ? `${w.name}-${w.hash}` : w.name;
  const ownerUid = deployment ? w.rsUid : w.uid;
  const host = nodeName(s.node);
  const hostIP = `10.${Math.floor(s.node / 250)}.${s.node % 250}.${4 + (s.node % 7)}`;
  const podIP = `10.${100 + Math.floor(i / 65_000)}.${Math.floor(i / 250) % 256}.${i % 250}`;
  const volume = `kube-api-access-${hex(i + 17, 5)}`;
  const probe = (path: string): object => ({
    httpGet: { path, port: 8080, scheme: "HTTP" },
    initialDelaySeconds: 2,
    timeoutSeconds: 1,
    periodSeconds: 5,
    successThreshold: 1,
    failureThreshold: 3,
  });
  const cond = (type: string, at: number): object => ({
    type,
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: time(at),
  });
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      ...(deployment ? { generateName: `${owner}-` } : {}),
      namespace: NS,
      uid: uid(4, i),
      resourceVersion: String(rv),
      creationTimestamp: time(60),
      ...(phase === 2 ? { deletionTimestamp: time(700), deletionGracePeriodSeconds: 30 } : {}),
      labels: {
        app: w.name,
        bench: "scale",
        ...(deployment
          ? { "pod-template-hash": w.hash }
          : {
              "apps.kubernetes.io/pod-index": String(s.ordinal),
              "controller-revision-hash": `${w.name}-${w.hash}`,
              "statefulset.kubernetes.io/pod-name": name,
            }),
      },
      ...(phase >= 1 ? { annotations: { "controller.kubernetes.io/pod-deletion-cost": "-100000" } } : {}),
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: deployment ? "ReplicaSet" : "StatefulSet",
          name: owner,
          uid: ownerUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: "kube-controller-manager",
          operation: "Update",
          apiVersion: "v1",
          time: time(60),
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": {
              "f:generateName": {},
              "f:labels": { ".": {}, "f:app": {}, "f:bench": {}, "f:pod-template-hash": {} },
              "f:ownerReferences": { ".": {}, [`k:{"uid":"${ownerUid}"}`]: {} },
            },
            "f:spec": {
              "f:containers": {
                'k:{"name":"app"}': {
                  ".": {},
                  "f:image": {},
                  "f:imagePullPolicy": {},
                  "f:livenessProbe": { ".": {}, "f:httpGet": { ".": {}, "f:path": {}, "f:port": {} } },
                  "f:name": {},
                  "f:readinessProbe": { ".": {}, "f:httpGet": { ".": {}, "f:path": {}, "f:port": {} } },
                  "f:resources": { ".": {}, "f:requests": { ".": {}, "f:cpu": {}, "f:memory": {} } },
                  "f:terminationMessagePath": {},
                  "f:terminationMessagePolicy": {},
                },
              },
              "f:dnsPolicy": {},
              "f:enableServiceLinks": {},
              "f:restartPolicy": {},
              "f:schedulerName": {},
              "f:securityContext": {},
              "f:terminationGracePeriodSeconds": {},
            },
          },
        },
        {
          manager: "kwok",
          operation: "Update",
          apiVersion: "v1",
          time: time(62),
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:status": {
              "f:conditions": {
                'k:{"type":"ContainersReady"}': {
                  ".": {},
                  "f:lastProbeTime": {},
                  "f:lastTransitionTime": {},
                  "f:status": {},
                  "f:type": {},
                },
                'k:{"type":"Initialized"}': {
                  ".": {},
                  "f:lastProbeTime": {},
                  "f:lastTransitionTime": {},
                  "f:status": {},
                  "f:type": {},
                },
                'k:{"type":"Ready"}': {
                  ".": {},
                  "f:lastProbeTime": {},
                  "f:lastTransitionTime": {},
                  "f:status": {},
                  "f:type": {},
                },
              },
              "f:containerStatuses": {},
              "f:hostIP": {},
              "f:hostIPs": {},
              "f:phase": {},
              "f:podIP": {},
              "f:podIPs": { ".": {}, [`k:{"ip":"${podIP}"}`]: { ".": {}, "f:ip": {} } },
              "f:startTime": {},
            },
          },
          subresource: "status",
        },
      ],
    },
    spec: {
      volumes: [
        {
          name: volume,
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
              { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
              {
                downwardAPI: {
                  items: [
                    { path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
                  ],
                },
              },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: [
        {
          name: "app",
          image: "lab/app:1",
          ports: [{ containerPort: 8080, protocol: "TCP" }],
          resources: { requests: { cpu: "100m", memory: "128Mi" } },
          volumeMounts: [
            { name: volume, readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" },
          ],
          livenessProbe: probe("/healthz"),
          readinessProbe: probe("/ready"),
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          imagePullPolicy: "IfNotPresent",
        },
      ],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      serviceAccount: "default",
      nodeName: host,
      securityContext: {},
      schedulerName: "default-scheduler",
      tolerations: [
        {
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
        {
          key: "node.kubernetes.io/unreachable",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
    },
    status: {
      phase: "Running",
      conditions: [
        cond("PodReadyToStartContainers", 61),
        cond("Initialized", 60),
        cond("Ready", 62),
        cond("ContainersReady", 62),
        cond("PodScheduled", 60),
      ],
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: time(60),
      containerStatuses: [
        {
          name: "app",
          state: { running: { startedAt: time(61) } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: "lab/app:1",
          imageID: "",
          started: true,
        },
      ],
      qosClass: "Burstable",
    },
  };
}

function workloadObjects(w: Workload): { top: object; rs: object | null; pdb: object | null } {
  const meta = (name: string, objUid: string): object => ({
    name,
    namespace: NS,
    uid: objUid,
    resourceVersion: "100",
    generation: 1,
    creationTimestamp: time(50),
    labels: { bench: "scale" },
    managedFields: [
      {
        manager: "bench",
        operation: "Update",
        apiVersion: "apps/v1",
        time: time(50),
        fieldsType: "FieldsV1",
        fieldsV1: { "f:spec": {} },
      },
    ],
  });
  const template = {
    metadata: { labels: { app: w.name, bench: "scale" } },
    spec: {
      containers: [
        { name: "app", image: "lab/app:1", resources: { requests: { cpu: "100m", memory: "128Mi" } } },
      ],
    },
  };
  const status = {
    observedGeneration: 1,
    replicas: w.replicas,
    readyReplicas: w.replicas,
    updatedReplicas: w.replicas,
    availableReplicas: w.replicas,
  };
  const selector = { matchLabels: { app: w.name } };
  const top = {
    kind: w.kind,
    apiVersion: "apps/v1",
    metadata: meta(w.name, w.uid),
    spec: {
      replicas: w.replicas,
      selector,
      template,
      ...(w.kind === "StatefulSet" ? { serviceName: w.name } : {}),
    },
    status,
  };
  const rs =
    w.kind === "Deployment"
      ? {
          kind: "ReplicaSet",
          apiVersion: "apps/v1",
          metadata: {
            ...meta(`${w.name}-${w.hash}`, w.rsUid),
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "Deployment",
                name: w.name,
                uid: w.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: { replicas: w.replicas, selector, template },
          status,
        }
      : null;
  const pdb = w.pdb
    ? {
        kind: "PodDisruptionBudget",
        apiVersion: "policy/v1",
        metadata: meta(w.name, uid(5, w.replicas)),
        spec: { maxUnavailable: 1, selector },
        status: {
          disruptionsAllowed: 1,
          currentHealthy: w.replicas,
          desiredHealthy: w.replicas - 1,
          expectedPods: w.replicas,
        },
      }
    : null;
  return { top, rs, pdb };
}

/** The stand-in API server: chunked lists, watches held open, the AZ event sent on request (IPC). */
function serve(nodes: number): void {
  const ws = workloadsFor(nodes);
  const slots = podSlots(ws, nodes);
  const objects = ws.map(workloadObjects);
  const lists: Record<string, () => object[]> = {
    "/apis/apps/v1/deployments": () =>
      objects.filter((_, i) => ws[i]?.kind === "Deployment").map((o) => o.top),
    "/apis/apps/v1/statefulsets": () =>
      objects.filter((_, i) => ws[i]?.kind === "StatefulSet").map((o) => o.top),
    "/apis/apps/v1/replicasets": () => objects.flatMap((o) => (o.rs === null ? [] : [o.rs])),
    "/apis/policy/v1/poddisruptionbudgets": () => objects.flatMap((o) => (o.pdb === null ? [] : [o.pdb])),
    "/apis/autoscaling/v2/horizontalpodautoscalers": () => [],
  };
  const watches = new Map<string, ServerResponse[]>();
  let rv = 1000;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      watches.set(path, [...(watches.get(path) ?? []), res]);
      return;
    }
    const limit = Number(url.searchParams.get("limit") ?? "500");
    const from = Number(url.searchParams.get("continue") ?? "0");
    let items: object[];
    let total: number;
    if (path === "/api/v1/pods") {
      total = slots.length;
      items = slots.slice(from, from + limit).map((s, k) => podObject(s, from + k, 500 + from + k));
    } else if (path === "/api/v1/nodes") {
      total = nodes;
      items = Array.from({ length: Math.max(0, Math.min(limit, nodes - from)) }, (_, k) =>
        nodeObject(from + k, 200),
      );
    } else {
      const all = lists[path]?.() ?? [];
      total = all.length;
      items = all.slice(from, from + limit);
    }
    const next = from + limit < total ? { continue: String(from + limit) } : {};
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        kind: "List",
        apiVersion: "v1",
        metadata: { resourceVersion: String(rv), ...next },
        items,
      }),
    );
  });
  const send = (path: string, type: string, object: object): void => {
    for (const res of watches.get(path) ?? []) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  process.on("message", (msg: { azEvent: number }) => {
    // The AZ event: each reclaimed node cordoned and tainted, each of its pods given a deletion cost, then terminating.
    let events = 0;
    for (let n = 0; n < msg.azEvent; n++) {
      send("/api/v1/nodes", "MODIFIED", nodeObject(n, ++rv, true));
      events++;
    }
    for (const phase of [1, 2] as const)
      slots.forEach((s, i) => {
        if (s.node >= msg.azEvent) return;
        send("/api/v1/pods", "MODIFIED", podObject(s, i, ++rv, phase));
        events++;
      });
    process.send?.({ sent: events });
  });
  server.listen(0, "127.0.0.1", () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
}

// ---- the measured process --------------------------------------------------------------------------------

interface Figures {
  heapMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  rssMb: number;
  rssPeakMb: number;
}

interface SizeResult {
  nodes: number;
  pods: number;
  baseline: Figures;
  synced: Figures;
  azEvent: Figures;
  syncSeconds: number;
  bytesPerPod: number;
}

function measure(): Figures {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:memory does)");
  gc();
  gc();
  const m = process.memoryUsage();
  const status = readFileSync("/proc/self/status", "utf8");
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? "0") / 1024;
  return {
    heapMb: m.heapUsed / MB,
    heapTotalMb: m.heapTotal / MB,
    externalMb: m.external / MB,
    arrayBuffersMb: m.arrayBuffers / MB,
    rssMb: m.rss / MB,
    rssPeakMb: hwm,
  };
}

async function measureSize(nodes: number): Promise<void> {
  // Everything `lifeboat run` loads (the AWS SDK, pino, prom-client, ...), so that the RSS is the controller's,
  // not only the cache's: the baseline is the process before its first list.
  await import("../src/cli/main.ts");
  const baseline = measure();
  const server = fork(
    import.meta.filename,
    ["--role", "serve", "--nodes", String(nodes), "--pods-per-node", String(podsPerNode)],
    {
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  try {
    const port = await new Promise<number>((resolve) => {
      server.once("message", (m: { port: number }) => {
        resolve(m.port);
      });
    });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: "bench", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "bench" }],
      contexts: [{ name: "bench", cluster: "bench", user: "bench" }],
      currentContext: "bench",
    });
    await using cache = new ClusterCache({ kubeConfig, clock: systemClock, log: silentClusterLogger });
    let changes = 0;
    cache.onChange(() => {
      changes++;
    });
    const started = performance.now();
    await cache.start();
    await cache.synced;
    const syncSeconds = (performance.now() - started) / 1000;
    const failed = Object.entries(cache.failures()).filter(([, n]) => n > 0);
    if (failed.length > 0)
      process.stderr.write(
        `informer failures while syncing: ${JSON.stringify(Object.fromEntries(failed))}\n`,
      );
    // Held, as the reconciler holds its snapshot while it plans.
    let snapshot: ClusterSnapshot = cache.snapshot(Date.now());
    const pods = snapshot.pods.length;
    const synced = measure();

    changes = 0;
    const sent = await new Promise<number>((resolve) => {
      server.once("message", (m: { sent: number }) => {
        resolve(m.sent);
      });
      server.send({ azEvent: Math.round(nodes * share) });
    });
    const waitStart = performance.now();
    while (changes < sent) {
      if (performance.now() - waitStart > 120_000)
        throw new Error(`the AZ event: ${changes} of ${sent} watch events seen after 120 s`);
      await sleep(20);
    }
    snapshot = cache.snapshot(Date.now());
    const azEvent = measure();
    if (snapshot.pods.length !== pods)
      throw new Error(`snapshot has ${snapshot.pods.length} pods, expected ${pods}`);
    const result: SizeResult = {
      nodes,
      pods,
      baseline,
      synced,
      azEvent,
      syncSeconds,
      bytesPerPod: Math.round(((azEvent.heapMb - baseline.heapMb) * MB) / pods),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    server.kill("SIGKILL");
  }
}

// ---- the driver ------------------------------------------------------------------------------------------

async function runSize(nodes: number): Promise<SizeResult> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      import.meta.filename,
      "--role",
      "measure",
      "--nodes",
      String(nodes),
      "--pods-per-node",
      String(podsPerNode),
      "--share",
      String(share),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`measuring ${nodes} nodes failed (exit ${String(code)})`);
  return JSON.parse(out.trim().split("\n").at(-1) ?? "") as SizeResult;
}

function row(label: string, f: Figures): string {
  const n = (x: number): string => x.toFixed(1).padStart(9);
  return `  ${label.padEnd(22)}${n(f.heapMb)}${n(f.heapTotalMb)}${n(f.externalMb)}${n(f.arrayBuffersMb)}${n(f.rssMb)}${n(f.rssPeakMb)}`;
}

async function main(): Promise<void> {
  const results: SizeResult[] = [];
  for (const nodes of values.sizes.split(",").map(Number)) {
    const r = await runSize(nodes);
    results.push(r);
    process.stdout.write(
      `\n${r.nodes} nodes, ${r.pods} pods (synced in ${r.syncSeconds.toFixed(1)} s), MB after global.gc():\n` +
        `  ${"".padEnd(22)}${["heap", "heap tot", "external", "arrbuf", "rss", "rss peak"].map((h) => h.padStart(9)).join("")}\n` +
        `${row("before the cache", r.baseline)}\n${row("synced + snapshot", r.synced)}\n${row(`AZ event (${Math.round(r.nodes * share)} nodes)`, r.azEvent)}\n` +
        `  heap per pod: ${r.bytesPerPod} bytes\n`,
    );
  }
  const last = results.at(-1);
  if (last === undefined) return;
  process.stdout.write(
    `memory: pods=${last.pods} heap_mb=${last.azEvent.heapMb.toFixed(0)} rss_mb=${last.azEvent.rssMb.toFixed(0)} bytes_per_pod=${last.bytesPerPod}\n`,
  );
}

if (values.role === "serve") serve(Number(values.nodes));
else if (values.role === "measure") await measureSize(Number(values.nodes));
else await main();
