/**
 * What a controller test needs around the lab: a control plane with spot nodes and a pod runtime that runs
 * pod specs as written (real seconds), moto with an interruption queue, and the Evacuation CRD installed.
 * Plus the reads tests assert on: Evacuations, Ready pods, nodes, Events, queue depth.
 *
 *   await using env = await startControllerLab({ nodeGroups: [...] });
 *   await using controller = await startController(env.handlerContext("/tmp/x.log"));
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { CoreV1Event, V1Node, V1Pod } from "@kubernetes/client-node";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMoto, type Moto } from "../../lab/aws/moto.ts";
import { deployInterruptionStack } from "../../lab/aws/stack.ts";
import { LabEc2 } from "../../lab/cloud/ec2.ts";
import { spotInterruptionWarning } from "../../lab/cloud/messages.ts";
import { startLab, type Lab, type LabNode, type LabOptions, type NodeGroupSpec } from "../../lab/lab.ts";
import type { HandlerContext } from "../../lab/run/handlers.ts";
import type { EvacuationResource } from "../../src/state/evacuation-resource.ts";
import { GROUP, PLURAL, VERSION } from "../../src/state/evacuation-resource.ts";

export const NS = "default";
export const REGION = "us-east-1";

export interface ControllerLabOptions {
  nodeGroups: NodeGroupSpec[];
  /** Scales the lab's node timings and the controller's time budgets (lifeboatArgs). Default 0.2. */
  timeScale?: number;
  /** SQS queue attributes (e.g. VisibilityTimeout) of the plain queue. */
  queueAttributes?: Record<string, string>;
  /**
   * "plain" (default): one queue made with CreateQueue, messages sent straight into it. "stack": the shipped
   * CloudFormation stack (queue, dead-letter queue, EventBridge rules), for notices published with PutEvents.
   */
  queue?: "plain" | "stack";
  /** More lab settings (KWOK pods instead of the pod runtime, control-plane rate limits: bench/scale.ts). */
  lab?: Omit<LabOptions, "nodeGroups" | "timeScale" | "runtime" | "instances">;
  /**
   * Every node first an EC2 instance in moto (lab/cloud/ec2.ts: its id, address and private DNS name), for a
   * handler that asks EC2 which node an instance is (aws-node-termination-handler). Default false: made-up ids.
   */
  ec2?: boolean;
}

export class ControllerLab implements AsyncDisposable {
  readonly lab: Lab;
  readonly moto: Moto;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly timeScale: number;
  /** A temp dir for logs; removed on dispose unless LIFEBOAT_KEEP_LOGS is set. */
  readonly dir: string;

  constructor(lab: Lab, moto: Moto, queueUrl: string, timeScale: number, dir: string) {
    this.lab = lab;
    this.moto = moto;
    this.sqs = moto.sqsClient();
    this.queueUrl = queueUrl;
    this.timeScale = timeScale;
    this.dir = dir;
  }

  /** How `lifeboat run` reaches this lab (for startController / lifeboatArgs). */
  handlerContext(logName: string): HandlerContext {
    return {
      kubeconfigPath: this.lab.kubeconfigPath,
      queueUrl: this.queueUrl,
      awsEndpoint: this.moto.endpoint,
      awsRegion: REGION,
      timeScale: this.timeScale,
      logPath: join(this.dir, logName),
      workDir: this.dir,
    };
  }

  /** Sends one raw message body to the interruption queue; returns the SQS message id. */
  async send(body: string): Promise<string> {
    const out = await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body }));
    return out.MessageId ?? "";
  }

  /** Sends EC2's spot interruption warning (EventBridge shape) for a node's instance; returns the body sent. */
  async sendSpotWarning(node: LabNode, at = new Date()): Promise<string> {
    const body = spotWarningBody(node, at);
    await this.send(body);
    return body;
  }

  /** Visible and in-flight (received, not yet deleted) message counts. */
  async queueDepth(): Promise<{ visible: number; inFlight: number }> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return {
      visible: Number(out.Attributes?.["ApproximateNumberOfMessages"] ?? NaN),
      inFlight: Number(out.Attributes?.["ApproximateNumberOfMessagesNotVisible"] ?? NaN),
    };
  }

  async evacuations(): Promise<EvacuationResource[]> {
    return listEvacuations(this.lab);
  }

  async evacuationsOf(nodeName: string): Promise<EvacuationResource[]> {
    return (await listEvacuations(this.lab)).filter((e) => e.spec.nodeName === nodeName);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.moto.stop().catch((err: unknown) => {
      console.error("moto stop:", err);
    });
    await this.lab[Symbol.asyncDispose]();
    if (process.env["LIFEBOAT_KEEP_LOGS"] === undefined) await rm(this.dir, { recursive: true, force: true });
    else console.error(`controller logs kept in ${this.dir}`);
  }
}

/** Starts the lab (pod specs run in real seconds), moto with a queue, and installs the Evacuation CRD. */
export async function startControllerLab(options: ControllerLabOptions): Promise<ControllerLab> {
  const timeScale = options.timeScale ?? 0.2;
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-it-"));
  const moto = await startMoto({ region: REGION });
  let lab: Lab | undefined;
  try {
    const instances =
      options.ec2 === true
        ? await LabEc2.create(moto.ec2Client(), { zones: options.nodeGroups.map((g) => g.zone) })
        : undefined;
    lab = await startLab({
      ...options.lab,
      nodeGroups: options.nodeGroups,
      timeScale,
      runtime: { timeScale: 1 },
      ...(instances === undefined ? {} : { instances }),
    });
    const queueUrl =
      options.queue === "stack"
        ? (await deployInterruptionStack(moto, { clusterName: "it" })).queueUrl
        : (
            await moto.sqsClient().send(
              new CreateQueueCommand({
                QueueName: "lifeboat-interruptions",
                Attributes: options.queueAttributes ?? {},
              }),
            )
          ).QueueUrl;
    if (queueUrl === undefined) throw new Error("moto returned no queue URL");
    await lab.installEvacuationCrd();
    return new ControllerLab(lab, moto, queueUrl, timeScale, dir);
  } catch (err) {
    await moto.stop();
    await lab?.[Symbol.asyncDispose]();
    throw err;
  }
}

/** The EventBridge spot warning for a node's instance, as EC2 puts it in the queue. */
export function spotWarningBody(node: LabNode, at = new Date()): string {
  return JSON.stringify(spotInterruptionWarning({ instanceId: node.instanceId, region: REGION }, at));
}

export async function listEvacuations(lab: Lab): Promise<EvacuationResource[]> {
  const out = (await lab.custom.listClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
  })) as {
    items: EvacuationResource[];
  };
  return out.items;
}

export const isPodReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

export const isTerminating = (p: V1Pod): boolean => p.metadata?.deletionTimestamp != null;

export async function podsOf(lab: Lab, app: string, namespace = NS): Promise<V1Pod[]> {
  return (await lab.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

/** Pods of `app` that are Ready and not terminating: the capacity that serves. */
export async function readyPodCount(lab: Lab, app: string, namespace = NS): Promise<number> {
  return (await podsOf(lab, app, namespace)).filter((p) => isPodReady(p) && !isTerminating(p)).length;
}

/** Lab nodes (of `group`, when given) holding a non-terminating pod of `app`. */
export async function nodesHolding(lab: Lab, app: string, group?: string): Promise<LabNode[]> {
  const names = new Set(
    (await podsOf(lab, app)).filter((p) => !isTerminating(p)).map((p) => p.spec?.nodeName),
  );
  return lab.nodes.filter((n) => names.has(n.name) && (group === undefined || n.nodeGroup === group));
}

export async function deploymentReplicas(lab: Lab, name: string, namespace = NS): Promise<number> {
  return (await lab.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas ?? NaN;
}

export async function statefulSetReplicas(lab: Lab, name: string, namespace = NS): Promise<number> {
  return (await lab.apps.readNamespacedStatefulSet({ name, namespace })).spec?.replicas ?? NaN;
}

/** Events whose involved object is `name` (of `kind`), optionally of one reason. */
export async function eventsFor(
  lab: Lab,
  kind: string,
  name: string,
  reason?: string,
  namespace = NS,
): Promise<CoreV1Event[]> {
  const all = (
    await lab.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
    })
  ).items;
  return reason === undefined ? all : all.filter((e) => e.reason === reason);
}

/** What an evacuated node must show: cordoned, tainted and labelled out of external load balancers. */
export function evacuationMarks(node: V1Node): {
  unschedulable: boolean;
  taint: string | null;
  excludeLabel: string | null;
} {
  const taint = node.spec?.taints?.find((t) => t.key === "lifeboat.dev/evacuating");
  return {
    unschedulable: node.spec?.unschedulable === true,
    taint: taint === undefined ? null : `${taint.key}:${taint.effect}`,
    excludeLabel: node.metadata?.labels?.["node.kubernetes.io/exclude-from-external-load-balancers"] ?? null,
  };
}

export const EVACUATED_MARKS = {
  unschedulable: true,
  taint: "lifeboat.dev/evacuating:NoSchedule",
  excludeLabel: "true",
} as const;
