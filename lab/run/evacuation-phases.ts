/**
 * lifeboat's Evacuation records at the end of a run, counted by phase, as `kubectl get evacuations` shows them
 * to a user: the report says whether every evacuation finished (Done) or was left open (Retiring, say).
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { EVACUATION_GROUP, EVACUATION_PLURAL, EVACUATION_VERSION } from "../harness/evacuations.ts";

interface EvacuationPhaseView {
  status?: { phase?: string };
}

/** Evacuations by phase (`Done`, `Retiring`, ...); a record without a status counts as `Pending`. */
export async function evacuationPhases(custom: CustomObjectsApi): Promise<Record<string, number>> {
  const list = (await custom.listClusterCustomObject({
    group: EVACUATION_GROUP,
    version: EVACUATION_VERSION,
    plural: EVACUATION_PLURAL,
  })) as {
    items: EvacuationPhaseView[];
  };
  const phases: Record<string, number> = {};
  for (const item of list.items) {
    const phase = item.status?.phase ?? "Pending";
    phases[phase] = (phases[phase] ?? 0) + 1;
  }
  return phases;
}

/**
 * The phases once every Evacuation is Done or Failed, or as they are after `limitMs` (an evacuation still
 * open then is part of the result, not an error).
 */
export async function settledEvacuationPhases(
  custom: CustomObjectsApi,
  limitMs: number,
): Promise<Record<string, number>> {
  const until = performance.now() + limitMs;
  for (;;) {
    const phases = await evacuationPhases(custom);
    const open = Object.entries(phases).some(([phase, n]) => n > 0 && phase !== "Done" && phase !== "Failed");
    if (!open || performance.now() >= until) return phases;
    await sleep(500);
  }
}
