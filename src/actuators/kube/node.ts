/**
 * Node writes: cordon (+ taint + exclude label), PreferNoSchedule taint, out-of-service taint, uncordon. Each is a read-modify-write:
 * read the node, compute the whole new taint list (keeping every other taint), and write it with a JSON merge
 * patch that carries the resourceVersion read, so a concurrent writer (kubelet, another controller) makes the
 * write fail with 409 instead of being overwritten; on 409 we read again.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type V1Node,
  type V1Taint,
} from "@kubernetes/client-node";
import { EXCLUDE_FROM_LB_LABEL, OUT_OF_SERVICE_TAINT } from "../../domain/plan.ts";
import type { CordonOptions, NodeOutcome } from "../kube-actuator.ts";
import { isConflict, isNotFound, KubeApiError, toKubeApiError } from "./errors.ts";

/** Read-modify-write rounds before giving up on a node that keeps changing under us. */
export const MAX_CONFLICT_ATTEMPTS = 5;

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

type NodeClient = Pick<CoreV1Api, "readNode" | "patchNode">;

/** A JSON merge patch for a node, without its resourceVersion (added by `mutateNode`). */
interface NodePatch {
  metadata?: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> };
  spec?: { unschedulable?: boolean | null; taints?: V1Taint[] };
}

/** Reads the node, asks `mutate` for a patch (null: already as wanted) and writes it with the read resourceVersion. */
async function mutateNode(
  core: NodeClient,
  name: string,
  operation: string,
  mutate: (node: V1Node) => NodePatch | null,
): Promise<NodeOutcome> {
  const target = `node/${name}`;
  for (let attempt = 1; attempt <= MAX_CONFLICT_ATTEMPTS; attempt++) {
    let node: V1Node;
    try {
      node = await core.readNode({ name });
    } catch (err) {
      if (isNotFound(err)) return { kind: "not-found" };
      throw toKubeApiError(err, "get", target);
    }
    const patch = mutate(node);
    if (patch === null) return { kind: "done", changed: false };
    const body = {
      ...patch,
      metadata: { ...patch.metadata, resourceVersion: node.metadata?.resourceVersion },
    };
    try {
      await core.patchNode({ name, body }, mergePatch);
      return { kind: "done", changed: true };
    } catch (err) {
      if (isNotFound(err)) return { kind: "not-found" };
      if (isConflict(err)) continue;
      throw toKubeApiError(err, operation, target);
    }
  }
  throw new KubeApiError({
    kind: "conflict",
    status: 409,
    operation,
    target,
    serverMessage: `still conflicting after ${MAX_CONFLICT_ATTEMPTS} read-modify-write attempts`,
  });
}

function hasTaint(node: V1Node, key: string, effect: string): boolean {
  return (node.spec?.taints ?? []).some((t) => t.key === key && t.effect === effect);
}

/** The node's taints with `key`:`effect` added (a taint is identified by key and effect). */
function withTaint(node: V1Node, key: string, effect: string): V1Taint[] {
  const taints = node.spec?.taints ?? [];
  return hasTaint(node, key, effect) ? taints : [...taints, { key, effect }];
}

export function cordon(core: NodeClient, name: string, options: CordonOptions): Promise<NodeOutcome> {
  return mutateNode(core, name, "cordon", (node) => {
    const labelled = !options.excludeFromLb || node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] === "true";
    if (node.spec?.unschedulable === true && hasTaint(node, options.taintKey, "NoSchedule") && labelled)
      return null;
    return {
      ...(options.excludeFromLb ? { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: "true" } } } : {}),
      spec: { unschedulable: true, taints: withTaint(node, options.taintKey, "NoSchedule") },
    };
  });
}

export function taintPreferNoSchedule(
  core: NodeClient,
  name: string,
  taintKey: string,
): Promise<NodeOutcome> {
  return mutateNode(core, name, "taint", (node) =>
    hasTaint(node, taintKey, "PreferNoSchedule")
      ? null
      : { spec: { taints: withTaint(node, taintKey, "PreferNoSchedule") } },
  );
}

/**
 * Adds node.kubernetes.io/out-of-service=nodeshutdown:NoExecute, keeping every other taint; no write when a
 * taint of that key and effect is on already (whatever its value: someone marked the node out of service).
 */
export function taintOutOfService(core: NodeClient, name: string): Promise<NodeOutcome> {
  const { key, value, effect } = OUT_OF_SERVICE_TAINT;
  return mutateNode(core, name, "taint", (node) =>
    hasTaint(node, key, effect)
      ? null
      : { spec: { taints: [...(node.spec?.taints ?? []), { key, value, effect }] } },
  );
}

/**
 * Removes annotation `key` only while it still holds `value` (a newer value is someone's new request, and
 * stays). `changed: false` when it is gone or holds something else.
 */
export function removeAnnotation(
  core: NodeClient,
  name: string,
  key: string,
  value: string,
): Promise<NodeOutcome> {
  return mutateNode(core, name, "remove annotation", (node) =>
    node.metadata?.annotations?.[key] === value ? { metadata: { annotations: { [key]: null } } } : null,
  );
}

export function uncordon(core: NodeClient, name: string, taintKey: string): Promise<NodeOutcome> {
  return mutateNode(core, name, "uncordon", (node) => {
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => t.key !== taintKey);
    const labelled = node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] !== undefined;
    if (node.spec?.unschedulable !== true && kept.length === taints.length && !labelled) return null;
    return {
      ...(labelled ? { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: null } } } : {}),
      spec: { unschedulable: null, taints: kept },
    };
  });
}

/** Puts `key`=`value`:PreferNoSchedule on the node, replacing the same key's PreferNoSchedule taint if present. */
export function setPreferNoScheduleTaint(
  core: NodeClient,
  name: string,
  key: string,
  value: string,
): Promise<NodeOutcome> {
  return mutateNode(core, name, "taint", (node) => {
    const taints = node.spec?.taints ?? [];
    if (taints.some((t) => t.key === key && t.effect === "PreferNoSchedule" && t.value === value))
      return null;
    const others = taints.filter((t) => !(t.key === key && t.effect === "PreferNoSchedule"));
    return { spec: { taints: [...others, { key, value, effect: "PreferNoSchedule" }] } };
  });
}

/** Removes the node's `key`:PreferNoSchedule taint, if any. */
export function removePreferNoScheduleTaint(
  core: NodeClient,
  name: string,
  key: string,
): Promise<NodeOutcome> {
  return mutateNode(core, name, "untaint", (node) => {
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => !(t.key === key && t.effect === "PreferNoSchedule"));
    return kept.length === taints.length ? null : { spec: { taints: kept } };
  });
}
