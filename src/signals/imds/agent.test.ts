import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeClock } from "../../domain/clock.ts";
import type { Notice } from "../../domain/notice.ts";
import { silentLogger } from "../logger.ts";
import { ImdsAgent, parseImdsEventTime } from "./agent.ts";

const INSTANCE = "i-0123456789abcdef0";
const SPOT_PAYLOAD = '{"action":"terminate","time":"2026-11-24T12:02:00Z"}';
const REBALANCE_PAYLOAD = '{"noticeTime":"2026-11-24T11:50:00Z"}';

/** A tiny IMDSv2 on loopback: tokens required, answers set by the test. */
async function fakeImds() {
  const state = {
    spot: null as string | null,
    rebalance: null as string | null,
    scheduled: null as string | null,
    lifecycle: null as string | null,
    tokensIssued: 0,
    requests: [] as string[],
    rejectTokens: new Set<string>(),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    if (req.method === "PUT" && req.url === "/latest/api/token") {
      if (req.headers["x-aws-ec2-metadata-token-ttl-seconds"] === undefined)
        return void res.writeHead(400).end();
      state.tokensIssued++;
      return void res.writeHead(200).end(`token-${state.tokensIssued}`);
    }
    const token = req.headers["x-aws-ec2-metadata-token"];
    if (typeof token !== "string" || state.rejectTokens.has(token)) return void res.writeHead(401).end();
    const body =
      req.url === "/latest/meta-data/instance-id"
        ? INSTANCE
        : req.url === "/latest/meta-data/spot/instance-action"
          ? state.spot
          : req.url === "/latest/meta-data/events/recommendations/rebalance"
            ? state.rebalance
            : req.url === "/latest/meta-data/events/maintenance/scheduled"
              ? state.scheduled
              : req.url === "/latest/meta-data/autoscaling/target-lifecycle-state"
                ? state.lifecycle
                : null;
    if (body === null) return void res.writeHead(404).end("Not Found");
    res.writeHead(200, { "content-type": "text/plain" }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    state,
    endpoint: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((r) =>
        server.close(() => {
          r();
        }),
      ),
  };
}

test("404 on both paths: no notice; a token was fetched first and sent on every GET", async () => {
  await using imds = await fakeImds();
  const agent = new ImdsAgent({ endpoint: imds.endpoint }, new FakeClock(), silentLogger);
  assert.deepEqual(await agent.pollOnce(), []);
  assert.equal(imds.state.requests[0], "PUT /latest/api/token");
  assert.equal(imds.state.tokensIssued, 1);
});

test("a spot instance-action payload becomes a notice whose id is a hash of the payload", async () => {
  await using imds = await fakeImds();
  const clock = new FakeClock();
  const agent = new ImdsAgent({ endpoint: imds.endpoint }, clock, silentLogger);
  imds.state.spot = SPOT_PAYLOAD;
  const [n, ...rest] = await agent.pollOnce();
  assert.equal(rest.length, 0);
  assert.equal(n?.kind, "spot-interruption");
  assert.equal(n?.source, "imds");
  assert.deepEqual(n?.target, { kind: "instance", instanceId: INSTANCE });
  assert.equal(n?.deadline, Date.parse("2026-11-24T12:02:00Z"));
  assert.equal(n?.issuedAt, clock.now());
  const again = await agent.pollOnce();
  assert.equal(again[0]?.id, n?.id, "same payload, same id");
  imds.state.spot = '{"action":"stop","time":"2026-11-24T12:02:00Z"}';
  assert.notEqual((await agent.pollOnce())[0]?.id, n?.id);
});

test("a rebalance recommendation becomes a notice without deadline; garbage payloads are ignored", async () => {
  await using imds = await fakeImds();
  const agent = new ImdsAgent(
    { endpoint: imds.endpoint, instanceId: "i-0fffffffffffffff0" },
    new FakeClock(),
    silentLogger,
  );
  imds.state.rebalance = REBALANCE_PAYLOAD;
  imds.state.spot = "<html>oops</html>";
  const list = await agent.pollOnce();
  assert.deepEqual(
    list.map((n) => [n.kind, n.deadline, n.issuedAt]),
    [["rebalance-recommendation", null, Date.parse("2026-11-24T11:50:00Z")]],
  );
  assert.deepEqual(list[0]?.target, { kind: "instance", instanceId: "i-0fffffffffffffff0" });
  assert.ok(
    !imds.state.requests.includes("GET /latest/meta-data/instance-id"),
    "instance id given, not fetched",
  );
});

test("a rejected token (401) is renewed once and the request retried", async () => {
  await using imds = await fakeImds();
  const agent = new ImdsAgent({ endpoint: imds.endpoint }, new FakeClock(), silentLogger);
  await agent.pollOnce();
  imds.state.rejectTokens.add("token-1");
  imds.state.spot = SPOT_PAYLOAD;
  assert.equal((await agent.pollOnce()).length, 1);
  assert.equal(imds.state.tokensIssued, 2);
});

test("run polls every interval on the clock and delivers each notice once", async () => {
  await using imds = await fakeImds();
  const clock = new FakeClock();
  let polls = 0;
  const agent = new ImdsAgent(
    {
      endpoint: imds.endpoint,
      pollIntervalMs: 5000,
      onPoll: () => {
        polls++;
      },
    },
    clock,
    silentLogger,
  );
  const got: Notice[] = [];
  const ac = new AbortController();
  const running = agent.run((n) => {
    got.push(n);
    return Promise.resolve();
  }, ac.signal);
  let expectedPolls = 0;
  /** Waits until the next poll finished and the agent sleeps on the clock until the following one. */
  const parked = async (): Promise<void> => {
    expectedPolls++;
    for (let i = 0; i < 2000 && !(polls === expectedPolls && clock.pending === 1); i++)
      await new Promise((r) => setTimeout(r, 1));
    assert.equal(polls, expectedPolls, "one poll per interval");
    assert.equal(clock.pending, 1, "agent parked between polls");
  };
  await parked();
  assert.equal(got.length, 0);
  imds.state.spot = SPOT_PAYLOAD;
  await clock.advance(5000);
  await parked();
  assert.equal(got.length, 1);
  await clock.advance(5000);
  await parked();
  assert.equal(got.length, 1, "the same payload is not delivered twice");
  ac.abort();
  await running;
});

test("IMDS event times ('21 Jan 2019 09:00:43 GMT') parse to UTC; other shapes do not", () => {
  assert.equal(parseImdsEventTime("21 Jan 2019 09:00:43 GMT"), Date.parse("2019-01-21T09:00:43Z"));
  assert.equal(parseImdsEventTime("1 Dec 2026 23:59:59 GMT"), Date.parse("2026-12-01T23:59:59Z"));
  assert.equal(parseImdsEventTime("2019-01-21T09:00:43Z"), null);
  assert.equal(parseImdsEventTime("21 Foo 2019 09:00:43 GMT"), null);
});

test("active scheduled events become scheduled-change notices due at NotBefore; completed and canceled do not", async () => {
  await using imds = await fakeImds();
  const agent = new ImdsAgent({ endpoint: imds.endpoint }, new FakeClock(), silentLogger);
  const event = (id: string, state: string, notBefore: string) => ({
    Code: "instance-retirement",
    Description: "The instance is scheduled for instance-retirement",
    State: state,
    EventId: id,
    NotBefore: notBefore,
    NotAfter: "30 Nov 2026 12:00:00 GMT",
  });
  imds.state.scheduled = JSON.stringify([
    event("instance-event-1", "active", "25 Nov 2026 08:00:00 GMT"),
    event("instance-event-2", "completed", "20 Nov 2026 08:00:00 GMT"),
    event("instance-event-3", "canceled", "26 Nov 2026 08:00:00 GMT"),
  ]);
  const list = await agent.pollOnce();
  assert.deepEqual(
    list.map((n) => [n.kind, n.deadline, n.source]),
    [["scheduled-change", Date.parse("2026-11-25T08:00:00Z"), "imds"]],
  );
  assert.match(list[0]?.id ?? "", /^imds-scheduled\/instance-event-1\//);
  assert.equal(list[0]?.scheduledChange, "retirement", "instance-retirement ends the instance");
  imds.state.scheduled = JSON.stringify([event("instance-event-1", "active", "27 Nov 2026 08:00:00 GMT")]);
  const moved = await agent.pollOnce();
  assert.notEqual(moved[0]?.id, list[0]?.id, "a rescheduled event is a new notice");
  imds.state.scheduled = "not json";
  assert.deepEqual(await agent.pollOnce(), []);
});

test("target-lifecycle-state Terminated becomes an ASG terminate notice due the configured seconds later", async () => {
  await using imds = await fakeImds();
  const clock = new FakeClock();
  const agent = new ImdsAgent(
    { endpoint: imds.endpoint, asgTerminateDeadlineSeconds: 300 },
    clock,
    silentLogger,
  );
  imds.state.lifecycle = "InService";
  assert.deepEqual(await agent.pollOnce(), []);
  imds.state.lifecycle = "Terminated";
  const [n] = await agent.pollOnce();
  assert.equal(n?.kind, "asg-lifecycle-terminate");
  assert.equal(n?.deadline, clock.now() + 300_000);
  assert.equal(n?.id, `imds-asg-terminate/${INSTANCE}`);
  await clock.advance(5000);
  assert.equal((await agent.pollOnce())[0]?.id, n?.id, "the same id on every poll");
});
