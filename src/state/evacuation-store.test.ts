/**
 * The store's informer against a loopback stand-in for the API server: after the first list, `list()` reads
 * memory (no request per reconcile), sees the store's own writes at once, and follows the watch.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { anEvacuation } from "../../test/fixtures/snapshot-builders.ts";
import { RecordingLogger } from "../cluster/logger.ts";
import { FakeClock } from "../domain/clock.ts";
import { toResource, type EvacuationResource } from "./evacuation-resource.ts";
import { EvacuationStore } from "./evacuation-store.ts";

const PATH = "/apis/lifeboat.dev/v1alpha1/evacuations";

async function until(what: string, predicate: () => Promise<boolean> | boolean): Promise<void> {
  const start = performance.now();
  while (!(await predicate())) {
    if (performance.now() - start > 10_000) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("EvacuationStore.watch", () => {
  it(
    "lists once, then reads memory, sees its own writes at once, and follows the watch",
    { timeout: 30_000 },
    async () => {
      const clock = new FakeClock();
      const stored = {
        evacuation: anEvacuation({ name: "e1", nodeName: "n1" }),
        lifecycleHook: null,
        message: "first",
        resourceVersion: "5",
      };
      let current: EvacuationResource = toResource(stored, clock.now());
      current.metadata.resourceVersion = "5";
      let lists = 0;
      const watches: ServerResponse[] = [];
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        res.setHeader("content-type", "application/json");
        if (req.method === "GET" && url.searchParams.get("watch") === "true") {
          res.writeHead(200);
          res.flushHeaders();
          watches.push(res);
          return;
        }
        if (req.method === "GET" && url.pathname === PATH) {
          lists++;
          res.end(
            JSON.stringify({
              apiVersion: "lifeboat.dev/v1alpha1",
              kind: "EvacuationList",
              metadata: { resourceVersion: "5" },
              items: [current],
            }),
          );
          return;
        }
        if (req.method === "PUT" && url.pathname === `${PATH}/e1/status`) {
          let body = "";
          req.on("data", (c: Buffer) => (body += c.toString()));
          req.on("end", () => {
            const written = JSON.parse(body) as EvacuationResource;
            written.metadata.resourceVersion = "6";
            res.end(JSON.stringify(written)); // the watch is not told (yet)
          });
          return;
        }
        res.writeHead(404);
        res.end("{}");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const stop = new AbortController();
      try {
        const kc = new KubeConfig();
        kc.loadFromOptions({
          clusters: [
            {
              name: "c",
              server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
              skipTLSVerify: true,
            },
          ],
          users: [{ name: "u", token: "t" }],
          contexts: [{ name: "x", cluster: "c", user: "u" }],
          currentContext: "x",
        });
        const store = new EvacuationStore(kc.makeApiClient(CustomObjectsApi), clock);
        await store.watch(kc, new RecordingLogger(), stop.signal);
        await until("the watch", () => watches.length > 0);
        const listsAfterSync = lists;
        for (let i = 0; i < 5; i++)
          assert.deepEqual(
            (await store.list()).map((s) => s.message),
            ["first"],
          );
        assert.equal(lists, listsAfterSync, "five reconciles, no list request");

        await store.updateStatus({ ...stored, message: "second" });
        assert.deepEqual(
          (await store.list()).map((s) => s.message),
          ["second"],
          "its own write, before the watch shows it",
        );

        current = {
          ...current,
          metadata: { ...current.metadata, resourceVersion: "7" },
          status: { ...current.status, message: "third" },
        };
        for (const w of watches) w.write(`${JSON.stringify({ type: "MODIFIED", object: current })}\n`);
        await until("the watch event", async () => (await store.list())[0]?.message === "third");

        for (const w of watches) w.write(`${JSON.stringify({ type: "DELETED", object: current })}\n`);
        await until("the delete", async () => (await store.list()).length === 0);
        assert.equal((await store.list({ fresh: true })).length, 1, "fresh: asks the API server");
      } finally {
        stop.abort();
        server.closeAllConnections();
        await new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
      }
    },
  );
});
