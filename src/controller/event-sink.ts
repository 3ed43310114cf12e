import type { CoreV1Api } from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
import type { EventSink } from "../actuators/ports.ts";
import { EventRecorder, type EventReason, type InvolvedObject } from "../observability/events.ts";
import type { Logger } from "../observability/logger.ts";

/** The executor's EventSink written as Kubernetes Events (errors are logged by the recorder, never thrown). */
export function makeEventSink(
  core: CoreV1Api,
  clock: Clock,
  logger: Logger,
  instance: string,
  onDropped?: () => void,
): EventSink & { flush(): Promise<void> } {
  const recorder = new EventRecorder({
    client: core,
    clock,
    logger,
    instance,
    ...(onDropped === undefined ? {} : { onDropped }),
  });
  return {
    emit: (event) => {
      const o = event.object;
      const object: InvolvedObject =
        o.kind === "Node" || o.kind === "Evacuation"
          ? { kind: o.kind, name: o.name }
          : { kind: o.kind, namespace: o.namespace ?? "default", name: o.name };
      // Typed: a planner warning code that is no catalog reason fails to compile here.
      const reason: EventReason = event.reason === "ShortPreStop" ? "PreStopTooShort" : event.reason;
      void recorder.record({
        object,
        reason,
        message: event.message,
        type: event.type,
      });
    },
    flush: () => recorder.flush(),
  };
}
