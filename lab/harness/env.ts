/**
 * The lab around a controller, assembled in one place for the scenario runner, the integration tests and the
 * benches: moto with an interruption queue, a control plane with spot nodes and a pod runtime that runs pod
 * specs as written (real seconds), the Evacuation CRD installed, and optionally every node an EC2 instance
 * and each node group an Auto Scaling group in moto.
 *
 *   await using env = await startLabEnv({ nodeGroups: [...] });
 *   await using controller = await startController(env.handlerContext("controller.log"));
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMoto, type Moto } from "../aws/moto.ts";
import { deployInterruptionStack } from "../aws/stack.ts";
import { LabAsgs } from "../cloud/asg.ts";
import { LabEc2 } from "../cloud/ec2.ts";
import { spotInterruptionWarning } from "../cloud/messages.ts";
import { startLab, type Lab, type LabNode, type LabOptions, type NodeGroupSpec } from "../lab.ts";
import type { NodeGroup } from "../scenarios/schema.ts";
import { listEvacuations, type EvacuationObject } from "./evacuations.ts";
import type { HandlerContext } from "./handlers.ts";

/** The namespace the lab's workloads run in. */
export const NS = "default";
export const REGION = "us-east-1";

export interface LabEnvOptions {
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
  /** The cluster name the stack is deployed for (its resources are named after it). Default "it". */
  stackClusterName?: string;
  /** More lab settings (KWOK pods instead of the pod runtime, control-plane rate limits: bench/scale.ts). */
  lab?: Omit<LabOptions, "nodeGroups" | "timeScale" | "runtime" | "instances">;
  /**
   * Every node first an EC2 instance in moto (lab/cloud/ec2.ts: its id, address and private DNS name), for a
   * handler that asks EC2 which node an instance is (aws-node-termination-handler). Default false: made-up ids.
   */
  ec2?: boolean;
  /**
   * The node groups' Auto Scaling groups in moto, holding the starting nodes' instances (lab/cloud/asg.ts;
   * wants `ec2`), with this MaxSize each. Default: none.
   */
  asgs?: { groups: readonly NodeGroup[]; maxSize: number };
  /**
   * Where handler logs go, kept on dispose. Default: a temp dir, removed on dispose unless LIFEBOAT_KEEP_LOGS
   * is set.
   */
  dir?: string;
}

/** What `LabEnv.start` assembles, handed to the constructor (of LabEnv or a subclass). */
export interface LabEnvParts {
  lab: Lab;
  moto: Moto;
  queueUrl: string;
  timeScale: number;
  dir: string;
  ownsDir: boolean;
  asgs: LabAsgs | null;
}

export class LabEnv implements AsyncDisposable {
  readonly lab: Lab;
  readonly moto: Moto;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly timeScale: number;
  /** Where handler logs go (see LabEnvOptions.dir). */
  readonly dir: string;
  /** The node groups' Auto Scaling groups; null unless asked for. */
  readonly asgs: LabAsgs | null;
  readonly #ownsDir: boolean;

  constructor(parts: LabEnvParts) {
    this.lab = parts.lab;
    this.moto = parts.moto;
    this.sqs = parts.moto.sqsClient();
    this.queueUrl = parts.queueUrl;
    this.timeScale = parts.timeScale;
    this.dir = parts.dir;
    this.asgs = parts.asgs;
    this.#ownsDir = parts.ownsDir;
  }

  /** Starts moto, the lab and the queue, and installs the Evacuation CRD; `this` is the class to make. */
  static async start<T extends LabEnv>(
    this: new (parts: LabEnvParts) => T,
    options: LabEnvOptions,
  ): Promise<T> {
    return new this(await assemble(options));
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

  async evacuations(): Promise<EvacuationObject[]> {
    return listEvacuations(this.lab);
  }

  async evacuationsOf(nodeName: string): Promise<EvacuationObject[]> {
    return (await listEvacuations(this.lab)).filter((e) => e.spec.nodeName === nodeName);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.asgs?.[Symbol.asyncDispose]();
    await this.moto.stop().catch((err: unknown) => {
      console.error("moto stop:", err);
    });
    await this.lab[Symbol.asyncDispose]();
    if (!this.#ownsDir) return;
    if (process.env["LIFEBOAT_KEEP_LOGS"] === undefined) await rm(this.dir, { recursive: true, force: true });
    else console.error(`controller logs kept in ${this.dir}`);
  }
}

/** Starts the lab (pod specs run in real seconds), moto with a queue, and installs the Evacuation CRD. */
export async function startLabEnv(options: LabEnvOptions): Promise<LabEnv> {
  return LabEnv.start(options);
}

/** The EventBridge spot warning for a node's instance, as EC2 puts it in the queue. */
export function spotWarningBody(node: LabNode, at = new Date()): string {
  return JSON.stringify(spotInterruptionWarning({ instanceId: node.instanceId, region: REGION }, at));
}

async function assemble(options: LabEnvOptions): Promise<LabEnvParts> {
  const timeScale = options.timeScale ?? 0.2;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "lifeboat-it-")));
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
    const queueUrl = await createQueue(moto, options);
    await lab.installEvacuationCrd();
    const asgs =
      options.asgs === undefined
        ? null
        : await LabAsgs.create(moto, options.asgs.groups, lab.nodes, options.asgs.maxSize);
    return { lab, moto, queueUrl, timeScale, dir, ownsDir: options.dir === undefined, asgs };
  } catch (err) {
    await moto.stop();
    await lab?.[Symbol.asyncDispose]();
    throw err;
  }
}

async function createQueue(moto: Moto, options: LabEnvOptions): Promise<string> {
  const queueUrl =
    options.queue === "stack"
      ? (await deployInterruptionStack(moto, { clusterName: options.stackClusterName ?? "it" })).queueUrl
      : (
          await moto.sqsClient().send(
            new CreateQueueCommand({
              QueueName: "lifeboat-interruptions",
              Attributes: options.queueAttributes ?? {},
            }),
          )
        ).QueueUrl;
  if (queueUrl === undefined) throw new Error("moto returned no queue URL");
  return queueUrl;
}
