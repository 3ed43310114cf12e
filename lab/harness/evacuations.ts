/**
 * The Evacuation custom resource as the lab reads it: through the API, with the shape of the CRD users get
 * (deploy/crds/lifeboat.dev_evacuations.yaml), not the product's types. Only the fields the lab and the
 * benches read are typed; the product's own resource type (src/state/evacuation-resource.ts) is assignable
 * to this one, so tests read Evacuations with it (test/helpers/lab-env.ts).
 */
import type { Lab } from "../lab.ts";

export const EVACUATION_GROUP = "lifeboat.dev";
export const EVACUATION_VERSION = "v1alpha1";
export const EVACUATION_PLURAL = "evacuations";

/** RFC 3339 times of an evacuation's milestones, as its status.timeline holds them. */
export interface EvacuationTimelineObject {
  cordonedAt?: string;
  surgeCreatedAt?: string;
  replacementsReadyAt?: string;
  retiredAt?: string;
  doneAt?: string;
}

export interface EvacuationObject {
  metadata: { name: string };
  spec: { nodeName: string; noticedAt: string; deadline?: string | undefined };
  status?: {
    phase?: string;
    surges?: { workload: { kind: string; name: string }; by: number; retiredAt?: string }[];
    timeline?: EvacuationTimelineObject;
  };
}

/** Every Evacuation in the cluster. */
export async function listEvacuations(lab: Lab): Promise<EvacuationObject[]> {
  const out = (await lab.custom.listClusterCustomObject({
    group: EVACUATION_GROUP,
    version: EVACUATION_VERSION,
    plural: EVACUATION_PLURAL,
  })) as { items: EvacuationObject[] };
  return out.items;
}
