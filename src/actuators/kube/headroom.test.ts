import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import type { PlaceholderSet } from "../../domain/headroom.ts";
import { SURGE_LEDGER_ANNOTATION } from "../../domain/surge-ledger.ts";
import {
  HEADROOM_SPEC_ANNOTATION,
  HeadroomActuator,
  placeholderDeployment,
  type HeadroomClient,
} from "./headroom.ts";

const SET: PlaceholderSet = {
  name: "lifeboat-headroom-ng-spot",
  scope: "node-group",
  labelKey: "eks.amazonaws.com/nodegroup",
  labelValue: "spot",
  replicas: 1,
  requests: { cpuMilli: 3900, memoryBytes: 15 * 2 ** 30 },
  reason: "test",
};
const SETTINGS = {
  namespace: "lifeboat-system",
  priorityClassName: "lifeboat-headroom",
  priority: -10,
  image: "registry.k8s.io/pause:3.10",
};

describe("placeholderDeployment", () => {
  test("pause pods of the headroom PriorityClass, pinned to the group, filling a node by requests", () => {
    const d = placeholderDeployment(SET, SETTINGS);
    assert.equal(d.metadata?.namespace, "lifeboat-system");
    assert.equal(d.spec?.replicas, 1);
    assert.equal(
      d.spec?.strategy?.type,
      "Recreate",
      "a resize never adds a pod that needs a node of its own",
    );
    const pod = d.spec?.template.spec;
    assert.equal(pod?.priorityClassName, "lifeboat-headroom");
    assert.equal(pod?.terminationGracePeriodSeconds, 0, "a preempted placeholder leaves at once");
    assert.deepEqual(
      pod?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
      [{ matchExpressions: [{ key: "eks.amazonaws.com/nodegroup", operator: "In", values: ["spot"] }] }],
    );
    assert.equal(
      pod?.affinity?.podAntiAffinity,
      undefined,
      "no anti-affinity: the scheduler does not retry a preemptor refused by the victim's anti-affinity",
    );
    const c = pod?.containers[0];
    assert.equal(c?.image, "registry.k8s.io/pause:3.10");
    assert.deepEqual(c?.resources?.requests, { cpu: "3900m", memory: String(15 * 2 ** 30) });
    assert.deepEqual(c?.resources?.limits, c?.resources?.requests);
    assert.equal(d.spec?.template.metadata?.labels?.["lifeboat.dev/headroom"], "spot");
    assert.deepEqual(d.spec?.selector.matchLabels, {
      "app.kubernetes.io/name": "lifeboat-headroom",
      "lifeboat.dev/headroom": "spot",
    });
  });

  test("the spec hash changes with the size and the count, not otherwise", () => {
    const hash = (s: PlaceholderSet) =>
      placeholderDeployment(s, SETTINGS).metadata?.annotations?.[HEADROOM_SPEC_ANNOTATION];
    assert.equal(hash(SET), hash({ ...SET, reason: "another reason" }));
    assert.notEqual(hash(SET), hash({ ...SET, replicas: 0 }));
    assert.notEqual(hash(SET), hash({ ...SET, requests: { cpuMilli: 3800, memoryBytes: 15 * 2 ** 30 } }));
  });

  test("no memory request when the size has none", () => {
    const d = placeholderDeployment({ ...SET, requests: { cpuMilli: 1000, memoryBytes: 0 } }, SETTINGS);
    assert.deepEqual(d.spec?.template.spec?.containers[0]?.resources?.requests, { cpu: "1000m" });
  });
});

/** One placeholder Deployment in a fake API server: what replace receives is what the server then holds. */
function fakeApps(
  current: V1Deployment,
): HeadroomClient["apps"] & { current: V1Deployment; replaced: number } {
  const api = {
    current,
    replaced: 0,
    readNamespacedDeployment: () => Promise.resolve(structuredClone(api.current)),
    createNamespacedDeployment: () => Promise.reject(new Error("not used")),
    replaceNamespacedDeployment: (p: { body: V1Deployment }) => {
      api.replaced++;
      api.current = structuredClone(p.body);
      return Promise.resolve(api.current);
    },
    listNamespacedDeployment: () => Promise.reject(new Error("not used")),
    deleteNamespacedDeployment: () => Promise.reject(new Error("not used")),
  };
  return api;
}

const noScheduling: HeadroomClient["scheduling"] = {
  readPriorityClass: () => Promise.reject(new Error("not used")),
  createPriorityClass: () => Promise.reject(new Error("not used")),
};

describe("HeadroomActuator.apply", () => {
  test("a resize keeps the annotations and labels lifeboat's keeper does not own (a surge ledger among them)", async () => {
    const ledger = '{"v":1,"replicas":2,"surges":[]}';
    const before = placeholderDeployment(SET, SETTINGS);
    before.metadata = {
      ...before.metadata,
      resourceVersion: "7",
      annotations: {
        ...before.metadata?.annotations,
        [SURGE_LEDGER_ANNOTATION]: ledger,
        "deployment.kubernetes.io/revision": "3",
      },
      labels: { ...before.metadata?.labels, "team.example.com/cost-center": "platform" },
    };
    const apps = fakeApps(before);
    const actuator = new HeadroomActuator({ apps, scheduling: noScheduling }, SETTINGS);
    assert.equal(await actuator.apply({ ...SET, replicas: 2 }), "updated");
    const after = apps.current.metadata;
    assert.equal(after?.annotations?.[SURGE_LEDGER_ANNOTATION], ledger, "the ledger is not wiped");
    assert.equal(after?.annotations?.["deployment.kubernetes.io/revision"], "3");
    assert.equal(after?.labels?.["team.example.com/cost-center"], "platform");
    assert.equal(after?.resourceVersion, "7", "the replace is conditional on what was read");
    assert.equal(apps.current.spec?.replicas, 2);
    assert.equal(
      after?.annotations?.[HEADROOM_SPEC_ANNOTATION],
      placeholderDeployment({ ...SET, replicas: 2 }, SETTINGS).metadata?.annotations?.[
        HEADROOM_SPEC_ANNOTATION
      ],
      "the keeper's own annotation is its new value",
    );
    assert.equal(await actuator.apply({ ...SET, replicas: 2 }), "unchanged");
    assert.equal(apps.replaced, 1);
  });
});
