/**
 * Keeps lifeboat's headroom in the cluster: the placeholders' PriorityClass and one placeholder Deployment per
 * node group (or zone), as the pure headroom planner (src/planner/headroom.ts) asks. Thin: each call reads,
 * compares and writes one object; the Deployment carries a hash of what lifeboat wrote, so an unchanged plan
 * writes nothing.
 */
import { createHash } from "node:crypto";
import type { AppsV1Api, SchedulingV1Api, V1Deployment, V1PriorityClass } from "@kubernetes/client-node";
import { HEADROOM_LABEL, HEADROOM_SCOPE_LABEL, type PlaceholderSet } from "../../domain/headroom.ts";
import { isConflict, isNotFound, toKubeApiError } from "./errors.ts";

/** Read-and-replace rounds of a resize before the error goes to the keeper (which tries again next round). */
const MAX_REPLACE_ATTEMPTS = 5;

/** Annotation on a placeholder Deployment: hash of the spec lifeboat last wrote. */
export const HEADROOM_SPEC_ANNOTATION = "lifeboat.dev/headroom-spec";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const NAME_LABEL = "app.kubernetes.io/name";

export interface PlaceholderSettings {
  namespace: string;
  priorityClassName: string;
  /** Value of the PriorityClass: below every workload's (default -10: Kubernetes' default is 0). */
  priority: number;
  image: string;
}

export type HeadroomApplyOutcome = "created" | "updated" | "unchanged";

export type HeadroomClient = {
  apps: Pick<
    AppsV1Api,
    | "readNamespacedDeployment"
    | "createNamespacedDeployment"
    | "replaceNamespacedDeployment"
    | "listNamespacedDeployment"
    | "deleteNamespacedDeployment"
  >;
  scheduling: Pick<SchedulingV1Api, "readPriorityClass" | "createPriorityClass">;
};

export interface HeadroomActuatorLike {
  ensurePriorityClass(): Promise<"created" | "exists">;
  apply(set: PlaceholderSet): Promise<HeadroomApplyOutcome>;
  /** Names of the placeholder Deployments lifeboat keeps now. */
  list(): Promise<string[]>;
  remove(name: string): Promise<void>;
}

/**
 * The placeholder Deployment for one set: a pause container of a low priority that fills a node of the group
 * by its requests (the planner sizes it), so each placeholder holds a node of its own.
 */
export function placeholderDeployment(set: PlaceholderSet, s: PlaceholderSettings): V1Deployment {
  const labels = {
    [NAME_LABEL]: "lifeboat-headroom",
    [MANAGED_BY_LABEL]: "lifeboat",
    [HEADROOM_LABEL]: set.labelValue,
    [HEADROOM_SCOPE_LABEL]: set.scope,
  };
  const requests: Record<string, string> = { cpu: `${set.requests.cpuMilli}m` };
  if (set.requests.memoryBytes > 0) requests["memory"] = String(set.requests.memoryBytes);
  const body: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: set.name, namespace: s.namespace, labels, annotations: {} },
    spec: {
      replicas: set.replicas,
      revisionHistoryLimit: 1,
      // A resized placeholder replaces the old one in place: no extra pod that would need a node of its own.
      strategy: { type: "Recreate" },
      selector: { matchLabels: { [NAME_LABEL]: "lifeboat-headroom", [HEADROOM_LABEL]: set.labelValue } },
      template: {
        metadata: {
          labels,
          // Karpenter: do not consolidate the node a placeholder holds (cluster-autoscaler does not remove it
          // either: the placeholder fills it, and fits on no other node).
          annotations: { "karpenter.sh/do-not-disrupt": "true" },
        },
        spec: {
          priorityClassName: s.priorityClassName,
          terminationGracePeriodSeconds: 0,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: set.labelKey, operator: "In", values: [set.labelValue] }] },
                ],
              },
            },
          },
          containers: [
            {
              name: "pause",
              image: s.image,
              resources: { requests, limits: { ...requests } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                runAsUser: 65535,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  };
  const hash = createHash("sha256").update(JSON.stringify(body.spec)).digest("hex").slice(0, 16);
  body.metadata = { ...body.metadata, annotations: { [HEADROOM_SPEC_ANNOTATION]: hash } };
  return body;
}

export class HeadroomActuator implements HeadroomActuatorLike {
  readonly #client: HeadroomClient;
  readonly #settings: PlaceholderSettings;

  constructor(client: HeadroomClient, settings: PlaceholderSettings) {
    this.#client = client;
    this.#settings = settings;
  }

  async ensurePriorityClass(): Promise<"created" | "exists"> {
    const name = this.#settings.priorityClassName;
    try {
      await this.#client.scheduling.readPriorityClass({ name });
      return "exists";
    } catch (err) {
      if (!isNotFound(err)) throw toKubeApiError(err, "read", `PriorityClass ${name}`);
    }
    const body: V1PriorityClass = {
      apiVersion: "scheduling.k8s.io/v1",
      kind: "PriorityClass",
      metadata: { name, labels: { [MANAGED_BY_LABEL]: "lifeboat" } },
      value: this.#settings.priority,
      // Placeholders never preempt anything; everything with a higher priority preempts them.
      preemptionPolicy: "Never",
      globalDefault: false,
      description: "lifeboat headroom placeholders: room that any workload pod may take by preemption",
    };
    try {
      await this.#client.scheduling.createPriorityClass({ body });
      return "created";
    } catch (err) {
      if (isConflict(err)) return "exists";
      throw toKubeApiError(err, "create", `PriorityClass ${name}`);
    }
  }

  async apply(set: PlaceholderSet): Promise<HeadroomApplyOutcome> {
    // A Deployment's controller writes its status right after every change: a replace that loses that race
    // (409) reads again and tries again, a few times, before the next round of the keeper would.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#applyOnce(set);
      } catch (err) {
        if (!isConflict(err) || attempt >= MAX_REPLACE_ATTEMPTS) throw err;
      }
    }
  }

  async #applyOnce(set: PlaceholderSet): Promise<HeadroomApplyOutcome> {
    const body = placeholderDeployment(set, this.#settings);
    const namespace = this.#settings.namespace;
    let current: V1Deployment;
    try {
      current = await this.#client.apps.readNamespacedDeployment({ name: set.name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw toKubeApiError(err, "read", `Deployment ${namespace}/${set.name}`);
      try {
        await this.#client.apps.createNamespacedDeployment({ namespace, body });
        return "created";
      } catch (createErr) {
        if (isConflict(createErr)) return "unchanged";
        throw toKubeApiError(createErr, "create", `Deployment ${namespace}/${set.name}`);
      }
    }
    const same =
      current.metadata?.annotations?.[HEADROOM_SPEC_ANNOTATION] ===
      body.metadata?.annotations?.[HEADROOM_SPEC_ANNOTATION];
    if (same) return "unchanged";
    const resourceVersion = current.metadata?.resourceVersion;
    // A replace writes the whole object: what lifeboat does not own (another controller's annotations, a
    // surge ledger an older lifeboat wrote when it still surged placeholders, a team's labels) is carried
    // over as read, and only the keeper's own keys take the new values.
    body.metadata = {
      ...body.metadata,
      labels: { ...current.metadata?.labels, ...body.metadata?.labels },
      annotations: { ...current.metadata?.annotations, ...body.metadata?.annotations },
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    };
    try {
      await this.#client.apps.replaceNamespacedDeployment({ name: set.name, namespace, body });
      return "updated";
    } catch (err) {
      throw toKubeApiError(err, "replace", `Deployment ${namespace}/${set.name}`);
    }
  }

  async list(): Promise<string[]> {
    const namespace = this.#settings.namespace;
    try {
      const list = await this.#client.apps.listNamespacedDeployment({
        namespace,
        labelSelector: `${MANAGED_BY_LABEL}=lifeboat,${HEADROOM_LABEL}`,
      });
      return list.items.map((d) => d.metadata?.name ?? "").filter((n) => n !== "");
    } catch (err) {
      throw toKubeApiError(err, "list", `Deployments in ${namespace}`);
    }
  }

  async remove(name: string): Promise<void> {
    const namespace = this.#settings.namespace;
    try {
      await this.#client.apps.deleteNamespacedDeployment({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return;
      throw toKubeApiError(err, "delete", `Deployment ${namespace}/${name}`);
    }
  }
}
