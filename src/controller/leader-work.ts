/**
 * What runs while this replica leads, and nothing before: the reconcile loop, the capacity keepers, a read
 * of every node's evacuate annotation, and the SQS consumer. A standby runs none of them (its caches stay
 * warm); a replica that loses the lease stops them all through the signal.
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "../config/schema.ts";
import type { Notice } from "../domain/notice.ts";
import { NoticeDeduper } from "../signals/dedupe.ts";
import { SqsConsumer, type SqsConsumerOptions } from "../signals/sqs/consumer.ts";
import { awsClientConfig, type ControllerDeps } from "./deps.ts";

export type LeaderTaskName = "reconcile" | "headroom" | "steering" | "annotations" | "sqs";

/** One piece of the leader's work, not yet started. */
export interface LeaderTask {
  name: LeaderTaskName;
  run(signal: AbortSignal): Promise<unknown>;
}

export interface LeaderParts {
  loop: { run(signal: AbortSignal): Promise<void> };
  headroom: { run(signal: AbortSignal): Promise<void> };
  steering: { run(signal: AbortSignal): Promise<void> };
  /** Reads every node's annotation once; null with --watch-node-annotation=false. */
  rescanAnnotations: (() => void) | null;
  /** Records a notice (the intake): resolves once its evacuation is durably recorded. */
  handleNotice: (notice: Notice) => Promise<void>;
  /** Resolves when every notice received is past its first act (the intake accepts more). */
  accepting: () => Promise<void>;
}

/** The leader's work, in the order it starts: the loops first, then what feeds them notices. */
export function leaderTasks(deps: ControllerDeps, parts: LeaderParts): LeaderTask[] {
  const tasks: LeaderTask[] = [
    { name: "reconcile", run: (signal) => parts.loop.run(signal) },
    { name: "headroom", run: (signal) => parts.headroom.run(signal) },
    { name: "steering", run: (signal) => parts.steering.run(signal) },
  ];
  const rescan = parts.rescanAnnotations;
  if (rescan !== null)
    tasks.push({
      name: "annotations",
      run: () => {
        rescan();
        return Promise.resolve();
      },
    });
  const { queueUrl } = deps.config;
  if (queueUrl !== undefined) tasks.push(sqsTask(deps, queueUrl, parts));
  return tasks;
}

function sqsTask(deps: ControllerDeps, queueUrl: string, parts: LeaderParts): LeaderTask {
  const { config, clock, log, metrics } = deps;
  const deduper = new NoticeDeduper(clock);
  const handler = deduper.wrap(parts.handleNotice, (n) => {
    metrics.noticeReceived({ kind: n.kind, source: n.source, outcome: "duplicate" });
    log.info({ notice: n.id, kind: n.kind }, `duplicate notice dropped (seen recently): ${n.summary}`);
  });
  const consumer = new SqsConsumer(
    new SQSClient(awsClientConfig(config)),
    queueUrl,
    {
      ...sqsConsumerOptions(config, parts.accepting),
      hooks: {
        onOutcome: (_kind, outcome, detail) => {
          metrics.sqsMessageHandled(detail.action === "delete-failed" ? "failed" : detail.action);
          if (outcome === "malformed" || outcome === "unknown") {
            metrics.noticeReceived({ kind: "unknown", source: "sqs", outcome });
          }
        },
      },
    },
    clock,
    log.child({ component: "sqs" }),
  );
  return {
    name: "sqs",
    run: (signal) => {
      const running = consumer.run(handler, signal);
      log.info({ queueUrl }, "consuming interruption notices from SQS");
      return running;
    },
  };
}

/** The consumer's settings from the config; a dry run deletes no message (they stay for a real controller). */
export function sqsConsumerOptions(config: Config, accepting: () => Promise<void>): SqsConsumerOptions {
  return {
    waitTimeSeconds: config.sqsWaitSeconds,
    maxMessages: config.sqsMaxMessages,
    concurrency: config.sqsConcurrency,
    visibilityTimeoutSeconds: config.sqsVisibilityTimeoutSeconds,
    // Receive again once every notice received is past its first act (its node cordoned): notices
    // waiting for their turn to be recorded stay in flight (their visibility extended) meanwhile.
    ready: accepting,
    deleteMessages: !config.dryRun,
    malformed: config.malformedMessagePolicy,
    unknown: config.unknownMessagePolicy,
    foreign: config.foreignInstancePolicy,
  };
}
