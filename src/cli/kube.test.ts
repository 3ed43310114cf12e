import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeClock, systemClock } from "../domain/clock.ts";
import { checkReachable, KubeConfigError, KubeUnreachableError, loadKubeConfig } from "./kube.ts";

let dir: string;
const nothing = (): { env: NodeJS.ProcessEnv; home: string; serviceAccountToken: string } => ({
  env: {},
  home: join(dir, "home"),
  serviceAccountToken: join(dir, "no-token"),
});

function kubeconfig(server: string, contexts: string[] = ["one"], current = contexts[0] ?? ""): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    ...contexts.flatMap((c) => [`- name: ${c}`, "  cluster:", `    server: ${server}`]),
    "users:",
    "- name: u",
    "  user:",
    "    token: t",
    "contexts:",
    ...contexts.flatMap((c) => [`- name: ${c}`, "  context:", `    cluster: ${c}`, "    user: u"]),
    `current-context: "${current}"`,
    "",
  ].join("\n");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-kube-"));
  await mkdir(join(dir, "home"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadKubeConfig says what is missing", () => {
  test("nothing configured: names --kubeconfig, KUBECONFIG, ~/.kube/config and the in-cluster check", () => {
    assert.throws(
      () => loadKubeConfig({}, nothing()),
      (err: Error) => {
        assert.ok(err instanceof KubeConfigError);
        assert.match(err.message, /KUBECONFIG not set/);
        assert.match(err.message, new RegExp(`${join(dir, "home", ".kube", "config")} does not exist`));
        assert.match(err.message, /not running in a cluster \(KUBERNETES_SERVICE_HOST not set\)/);
        return true;
      },
    );
  });

  test("KUBERNETES_SERVICE_HOST without a service account token is not a cluster either", () => {
    assert.throws(
      () => loadKubeConfig({}, { ...nothing(), env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" } }),
      KubeConfigError,
    );
  });

  test("a --kubeconfig or KUBECONFIG that names no file", () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfig: join(dir, "nope") }, nothing()),
      /--kubeconfig .*nope: no such file/,
    );
    assert.throws(
      () => loadKubeConfig({}, { ...nothing(), env: { KUBECONFIG: `${join(dir, "a")}:${join(dir, "b")}` } }),
      /KUBECONFIG=.* names no file that exists/,
    );
  });

  test("~/.kube/config is found; KUBECONFIG wins over it and skips missing entries", async () => {
    await mkdir(join(dir, "home", ".kube"), { recursive: true });
    await writeFile(join(dir, "home", ".kube", "config"), kubeconfig("https://home.example:6443"));
    await writeFile(join(dir, "env.yaml"), kubeconfig("https://env.example:6443", ["envctx"]));
    const home = loadKubeConfig({}, nothing());
    assert.equal(home.server, "https://home.example:6443");
    const env = loadKubeConfig(
      {},
      { ...nothing(), env: { KUBECONFIG: `${join(dir, "gone")}:${join(dir, "env.yaml")}` } },
    );
    assert.equal(env.server, "https://env.example:6443");
    await rm(join(dir, "home", ".kube"), { recursive: true });
  });

  test("--context picks a context; an unknown one lists the contexts there are", async () => {
    const path = join(dir, "two.yaml");
    await writeFile(path, kubeconfig("https://two.example:6443", ["blue", "green"]));
    assert.equal(
      loadKubeConfig({ kubeconfig: path, context: "green" }, nothing()).kubeConfig.getCurrentContext(),
      "green",
    );
    assert.throws(
      () => loadKubeConfig({ kubeconfig: path, context: "red" }, nothing()),
      /has no context red \(contexts: blue, green\)/,
    );
  });

  test("no current-context and no --context: asks for --context", async () => {
    const path = join(dir, "nocurrent.yaml");
    await writeFile(path, kubeconfig("https://x.example:6443", ["a", "b"], ""));
    assert.throws(
      () => loadKubeConfig({ kubeconfig: path }, nothing()),
      /has no current-context: pass --context NAME \(contexts: a, b\)/,
    );
  });

  test("an http:// server is allowed (as kubectl allows it), not refused for a TLS setting", async () => {
    const path = join(dir, "http.yaml");
    await writeFile(path, kubeconfig("http://127.0.0.1:8001"));
    const loaded = loadKubeConfig({ kubeconfig: path }, nothing());
    assert.equal(loaded.kubeConfig.getCurrentCluster()?.skipTLSVerify, true);
  });
});

describe("checkReachable names the API server that does not answer", () => {
  let silent: Server;
  let silentPort: number;
  before(async () => {
    // Accepts connections and never answers: a blackholed API server.
    silent = createServer(() => undefined);
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    silentPort = (silent.address() as { port: number }).port;
  });
  after(() => {
    silent.close();
  });

  test("connection refused: the URL and ECONNREFUSED", async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as { port: number }).port;
    closed.close();
    const path = join(dir, "refused.yaml");
    await writeFile(path, kubeconfig(`https://127.0.0.1:${port}`));
    await assert.rejects(
      checkReachable(loadKubeConfig({ kubeconfig: path }, nothing()), systemClock),
      (err: Error) => {
        assert.ok(err instanceof KubeUnreachableError);
        assert.match(
          err.message,
          new RegExp(`API server at https://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`),
        );
        return true;
      },
    );
  });

  test("no answer: gives up after the timeout (a fake clock's), naming the URL", async () => {
    const path = join(dir, "silent.yaml");
    await writeFile(path, kubeconfig(`https://127.0.0.1:${silentPort}`));
    const clock = new FakeClock();
    const check = checkReachable(loadKubeConfig({ kubeconfig: path }, nothing()), clock, 5000);
    const outcome = assert.rejects(check, /127\.0\.0\.1:\d+ is unreachable: no answer within 5 s/);
    while (clock.pending === 0) await new Promise((r) => setImmediate(r));
    await clock.advance(5000);
    await outcome;
  });
});
