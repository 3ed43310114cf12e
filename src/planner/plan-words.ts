/** Small pure helpers the planner's phases share: how plans talk about time and counts, and pod facts. */
import type { Evacuation } from "../domain/evacuation.ts";
import type { PodView } from "../domain/snapshot.ts";

/** True when the evacuation may remove pods: a real evacuation, or a prewarm that has learned its deadline. */
export function canMove(evac: Evacuation): boolean {
  return evac.mode === "evacuate" || evac.deadline !== null;
}

export function isFinished(pod: PodView): boolean {
  return pod.phase === "Succeeded" || pod.phase === "Failed";
}

/** "in 12 s", "3 s ago", "now": plans talk in times relative to `now` so their reasons are readable. */
export function rel(at: number, now: number): string {
  const s = Math.round((at - now) / 1000);
  if (s === 0) return "now";
  return s > 0 ? `in ${s} s` : `${-s} s ago`;
}

/** Appends `value` to the list at `key`, creating it. */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
