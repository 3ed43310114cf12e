/**
 * Node writes: cordon (+ taint + exclude label + the record of what it changed), PreferNoSchedule taint,
 * out-of-service taint, uncordon (undoes only what the record says lifeboat changed). Each is a read-modify-write:
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
import { CORDON_RESTORE_ANNOTATION, EXCLUDE_FROM_LB_LABEL, OUT_OF_SERVICE_TAINT } from "../../domain/plan.ts";
import type { CordonOptions, NodeOutcome } from "../kube-actuator.ts";
import { isConflict, isNotFound, KubeApiError, toKubeApiError } from "./errors.ts";

/** Read-modify-write rounds before giving up on a node that keeps changing under us. */
export const MAX_CONFLICT_ATTEMPTS = 5;

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

type NodeClient = Pick<CoreV1Api, "readNode" | "patchNode">;

/** A JSON merge patch for a node, without its resourceVersion (added by `mutateNode`). */
export interface NodePatch {
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

/** The value lifeboat's cordon gives the exclude-from-load-balancers label. */
const EXCLUDED = "true";

/**
 * What lifeboat's cordon changed on a node, kept on the node as JSON in CORDON_RESTORE_ANNOTATION:
 * - `unschedulable`: true when the cordon set spec.unschedulable (the node was schedulable before);
 * - `labels`: each label the cordon set, with its value before (null: the node had no such label).
 * Lifeboat's taint needs no record: its key is lifeboat's own.
 */
export interface CordonRestore {
  unschedulable: boolean;
  labels: Record<string, string | null>;
}

/** The node's record of lifeboat's cordon; null when it has none (or one that does not parse). */
export function cordonRestoreOf(node: V1Node): CordonRestore | null {
  const raw = node.metadata?.annotations?.[CORDON_RESTORE_ANNOTATION];
  if (raw === undefined) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<CordonRestore> | null;
    if (typeof parsed !== "object" || parsed === null) return null;
    const labels: Record<string, string | null> = {};
    for (const [key, value] of Object.entries(parsed.labels ?? {}))
      if (typeof value === "string" || value === null) labels[key] = value;
    return { unschedulable: parsed.unschedulable === true, labels };
  } catch {
    return null;
  }
}

/**
 * The patch of lifeboat's cordon of `node`; null when the node already carries every mark of it. The same
 * patch records what it changes (CORDON_RESTORE_ANNOTATION), added to the record of an earlier cordon that
 * is still on (lifeboat's NoSchedule taint present): a repeated cordon never turns lifeboat's change into
 * "was there before". A record on a node without lifeboat's taint is stale (that cordon was undone by hand)
 * and is replaced.
 */
export function cordonPatch(node: V1Node, options: CordonOptions): NodePatch | null {
  const labels = node.metadata?.labels ?? {};
  const ours = hasTaint(node, options.taintKey, "NoSchedule");
  const labelled = !options.excludeFromLb || labels[EXCLUDE_FROM_LB_LABEL] === EXCLUDED;
  if (node.spec?.unschedulable === true && ours && labelled) return null;
  const prior = ours ? cordonRestoreOf(node) : null;
  const restore: CordonRestore = {
    unschedulable: (prior?.unschedulable ?? false) || node.spec?.unschedulable !== true,
    labels: { ...prior?.labels },
  };
  if (!labelled && !(EXCLUDE_FROM_LB_LABEL in restore.labels))
    restore.labels[EXCLUDE_FROM_LB_LABEL] = labels[EXCLUDE_FROM_LB_LABEL] ?? null;
  return {
    metadata: {
      ...(labelled ? {} : { labels: { [EXCLUDE_FROM_LB_LABEL]: EXCLUDED } }),
      annotations: { [CORDON_RESTORE_ANNOTATION]: JSON.stringify(restore) },
    },
    spec: { unschedulable: true, taints: withTaint(node, options.taintKey, "NoSchedule") },
  };
}

export function cordon(core: NodeClient, name: string, options: CordonOptions): Promise<NodeOutcome> {
  return mutateNode(core, name, "cordon", (node) => cordonPatch(node, options));
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

/**
 * The patch that undoes lifeboat's cordon of `node`; null when there is nothing to undo. Every taint of
 * `taintKey` goes; spec.unschedulable and the labels go back only as far as the node's record says lifeboat
 * changed them, and a label only while it still holds lifeboat's value (a later change is someone else's).
 * A node with lifeboat's NoSchedule taint and no record was cordoned by a lifeboat that kept none: it is
 * undone as it was then (unschedulable off, the exclude label removed). Without either, nothing but
 * lifeboat's taints is touched: a cordon of someone else's stays, however often the uncordon is retried.
 */
export function uncordonPatch(node: V1Node, taintKey: string): NodePatch | null {
  const taints = node.spec?.taints ?? [];
  const kept = taints.filter((t) => t.key !== taintKey);
  const recorded = node.metadata?.annotations?.[CORDON_RESTORE_ANNOTATION] !== undefined;
  const restore: CordonRestore =
    cordonRestoreOf(node) ??
    (hasTaint(node, taintKey, "NoSchedule")
      ? { unschedulable: true, labels: { [EXCLUDE_FROM_LB_LABEL]: null } }
      : { unschedulable: false, labels: {} });
  const labels: Record<string, string | null> = {};
  for (const [key, before] of Object.entries(restore.labels))
    if (node.metadata?.labels?.[key] === EXCLUDED && before !== EXCLUDED) labels[key] = before;
  const unschedulable = restore.unschedulable && node.spec?.unschedulable === true;
  if (!unschedulable && kept.length === taints.length && Object.keys(labels).length === 0 && !recorded)
    return null;
  const metadata = {
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(recorded ? { annotations: { [CORDON_RESTORE_ANNOTATION]: null } } : {}),
  };
  return {
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    spec: { ...(unschedulable ? { unschedulable: null } : {}), taints: kept },
  };
}

export function uncordon(core: NodeClient, name: string, taintKey: string): Promise<NodeOutcome> {
  return mutateNode(core, name, "uncordon", (node) => uncordonPatch(node, taintKey));
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
