/**
 * The lab's fault proxy against the real parts: kube-apiserver (TLS verified against the lab's CA, the
 * lab's token forwarded, watches streaming through) and moto (SQS through the proxy, a DeleteMessage failed).
 */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  CreateQueueCommand,
} from "@aws-sdk/client-sqs";
import { CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { test } from "node:test";
import { MOTO_CREDENTIALS, startMoto } from "../../lab/aws/moto.ts";
import { startAwsFaultProxy } from "../../lab/faults/aws.ts";
import { startKubeFaultProxy } from "../../lab/faults/kube.ts";
import { startLab } from "../../lab/lab.ts";
import { waitFor } from "../helpers/wait.ts";

test("kube-apiserver through the fault proxy: TLS and token as in the lab, watches stream, faults and an outage land", async () => {
  await using lab = await startLab({
    nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 1 }],
    timeScale: 0.2,
  });
  await using faults = await startKubeFaultProxy(lab.controlPlane);
  const { proxy } = faults;
  const kc = new KubeConfig();
  kc.loadFromFile(faults.kubeconfigPath);
  assert.equal(kc.getCurrentCluster()?.server, proxy.url);
  assert.equal(kc.getCurrentCluster()?.skipTLSVerify ?? false, false);
  const core = kc.makeApiClient(CoreV1Api);

  assert.equal((await core.listNode()).items.length, 1, "a list through the proxy, TLS verified");

  // A watch through the proxy sees an object created directly on the API server while it streams.
  const events: string[] = [];
  let watchEnded: string | null = null;
  const watch = await new Watch(kc).watch(
    "/api/v1/namespaces/default/configmaps",
    {},
    (type, obj: { metadata?: { name?: string } }) => events.push(`${type} ${obj.metadata?.name ?? ""}`),
    (err: unknown) => {
      watchEnded = err instanceof Error ? err.message : "ended";
    },
  );
  await lab.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-1" } } });
  await waitFor(
    "the watch event through the proxy",
    () => (events.includes("ADDED cm-1") ? true : undefined),
    {
      timeoutMs: 10_000,
    },
  );
  assert.ok(proxy.requests.some((r) => r.verb === "watch" && r.resource === "configmaps"));

  // A 500 on create configmaps: the client sees the API's Status, the server never saw the write.
  const rule = proxy.inject({
    match: { verb: "create", resource: "configmaps" },
    fault: { kind: "status", status: 500 },
    times: 1,
  });
  await assert.rejects(
    core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-2" } } }),
    (err: { code?: number }) => err.code === 500,
  );
  assert.equal(rule.failed, 1);
  await assert.rejects(
    lab.core.readNamespacedConfigMap({ namespace: "default", name: "cm-2" }),
    (err: { code?: number }) => err.code === 404,
  );

  // when: "response": the write lands, the client sees 500.
  proxy.inject({
    match: { verb: "create", resource: "configmaps" },
    fault: { kind: "status", status: 500 },
    when: "response",
    times: 1,
  });
  await assert.rejects(
    core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-3" } } }),
  );
  assert.equal(
    (await lab.core.readNamespacedConfigMap({ namespace: "default", name: "cm-3" })).metadata?.name,
    "cm-3",
  );

  // Unreachable: the open watch is cut, calls fail, and work again after the window.
  proxy.unreachable(1_500);
  await assert.rejects(core.listNode());
  await waitFor("the watch to be cut", () => watchEnded ?? undefined, { timeoutMs: 5_000 });
  await waitFor(
    "the API server reachable again",
    async () => ((await core.listNode()).items.length === 1 ? true : undefined),
    {
      timeoutMs: 10_000,
    },
  );
  watch.abort();
});

test("moto through the fault proxy: SQS works, and a failed DeleteMessage leaves the message in the queue", async () => {
  await using moto = await startMoto();
  await using proxy = await startAwsFaultProxy(moto.endpoint);
  const sqs = new SQSClient({
    endpoint: proxy.url,
    region: "us-east-1",
    credentials: { ...MOTO_CREDENTIALS },
    maxAttempts: 1,
  });
  const created = await sqs.send(
    new CreateQueueCommand({ QueueName: "q", Attributes: { VisibilityTimeout: "1" } }),
  );
  const queueUrl = proxy.rewrite(created.QueueUrl ?? "");
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "hello" }));
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
  assert.equal(got.Messages?.[0]?.Body, "hello");
  proxy.inject({ match: { action: "DeleteMessage" }, fault: { kind: "status", status: 500 }, times: 1 });
  await assert.rejects(
    sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: got.Messages?.[0]?.ReceiptHandle ?? "" }),
    ),
  );
  const again = await waitFor(
    "the message to come back after its visibility timeout",
    async () =>
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }))).Messages?.[0],
    { timeoutMs: 10_000 },
  );
  assert.equal(again.Body, "hello");
  assert.deepEqual(
    proxy.requests
      .filter((r) => r.action === "DeleteMessage")
      .map((r) => [r.outcome, r.status, r.reachedUpstream]),
    [["fault", 500, false]],
  );
  proxy.unreachable(60_000);
  await assert.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 })));
});
