/**
 * Publishes the cloud simulator's events the way AWS services do: EventBridge PutEvents on the default bus. The
 * rules of the deployed stack (./stack.ts) then route each event into the interruption queue, so a scenario's
 * notices travel the template's real patterns. EventBridge assigns the event id, account and region; the source,
 * detail-type, time, resources and detail are the simulator's.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Moto } from "./moto.ts";

/** The parts of an EventBridge event that PutEvents takes (the rest is EventBridge's to fill in). */
export interface PublishableEvent {
  source: string;
  "detail-type": string;
  /** RFC 3339. */
  time: string;
  resources: readonly string[];
  detail: unknown;
}

export class PutEventsError extends Error {
  override readonly name = "PutEventsError";
  readonly code: string;
  constructor(event: PublishableEvent, code: string, message: string) {
    super(`PutEvents refused ${event.source} "${event["detail-type"]}": ${code}: ${message}`);
    this.code = code;
  }
}

export function eventBridgeClient(moto: Moto): EventBridgeClient {
  return new EventBridgeClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: { ...moto.credentials },
    maxAttempts: 1,
  });
}

/** Puts one event on the default bus; resolves with EventBridge's event id. Throws PutEventsError on a failed entry. */
export async function putEvent(client: EventBridgeClient, event: PublishableEvent): Promise<string> {
  const out = await client.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: event.source,
          DetailType: event["detail-type"],
          Time: new Date(event.time),
          Resources: [...event.resources],
          Detail: JSON.stringify(event.detail),
        },
      ],
    }),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
    throw new PutEventsError(
      event,
      entry?.ErrorCode ?? "NoEventId",
      entry?.ErrorMessage ?? "no event id returned",
    );
  }
  return entry.EventId;
}

/**
 * A sender for the cloud simulator (`CloudOptions.send`): takes the JSON body of an EventBridge event, as the
 * simulator builds it, and publishes it with PutEvents instead of writing it into the queue.
 */
export function eventBridgeSender(client: EventBridgeClient): (body: string) => Promise<void> {
  return async (body: string): Promise<void> => {
    await putEvent(client, JSON.parse(body) as PublishableEvent);
  };
}
