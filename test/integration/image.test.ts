/**
 * The container image, built daemonless (image/build.ts, cached) and run without a container engine
 * (image/run.ts: its layers unpacked, its own entrypoint, env and user, a read-only root): it is small
 * enough, holds the product and not the lab, prints its version, and `lifeboat run` inside it evacuates a
 * node of the lab make-before-break.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { buildImage, mb, type BuiltImage } from "../../image/build.ts";
import type { ImageConfig } from "../../image/oci.ts";
import { containerCommand, unpackImage, type ContainerOptions } from "../../image/run.ts";
import { startController } from "../helpers/controller-process.ts";
import { nodesHolding, NS, podsOf, readyPodCount, startControllerLab } from "../helpers/lab-env.ts";
import { counter } from "../helpers/reconciles.ts";
import { Sampler, waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment } from "../helpers/workloads.ts";

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
let image: BuiltImage;
let rootfs: string;
let config: ImageConfig;

before(async () => {
  image = await buildImage({
    log: (l) => {
      console.error(l);
    },
  });
  console.error(
    `[image] ${image.layoutDir}: ${mb(image.compressedSize)} compressed, ${image.buildSeconds.toFixed(1)} s${image.built ? "" : " (cached)"}`,
  );
  rootfs = await mkdtemp(join(tmpdir(), "lifeboat-rootfs-"));
  config = await unpackImage(image.layoutDir, rootfs);
});

after(async () => {
  if (rootfs !== undefined) await rm(rootfs, { recursive: true, force: true });
});

async function inContainer(options: ContainerOptions): Promise<{ stdout: string; stderr: string }> {
  const c = await containerCommand(rootfs, config, options);
  return exec(c.file, c.args, { env: c.env, timeout: 30_000 });
}

test("the image is below 80 MB compressed, runs as 65532 from the pinned Node, and holds no lab", async () => {
  assert.ok(image.compressedSize < 80e6, `compressed size ${mb(image.compressedSize)} < 80 MB`);
  assert.equal(config.config.User, "65532:65532");
  assert.deepEqual(config.config.Entrypoint, ["/usr/bin/node", "/app/bin/lifeboat.js"]);
  const versions = await readFile(join(ROOT, "lab", "versions.env"), "utf8");
  const node = /^NODE_VERSION=(\S+)/m.exec(versions)?.[1];
  const uid = await inContainer({
    entrypoint: ["/usr/bin/node", "-p", "`${process.getuid()} ${process.version}`"],
    args: [],
  });
  assert.equal(uid.stdout.trim(), `65532 v${node ?? "?"}`);
  const app = await readdir(join(rootfs, "app"));
  assert.deepEqual(app.sort(), [
    "CHANGELOG.md",
    "README.md",
    "bin",
    "dist",
    "node_modules",
    "package-lock.json",
    "package.json",
  ]);
  assert.deepEqual((await readdir(join(rootfs, "app", "bin"))).sort(), [
    "kubectl-lifeboat.js",
    "lifeboat.js",
    "start.js",
  ]);
  assert.deepEqual((await readdir(join(rootfs, "app", "dist"))).sort(), ["common", "src"]);
  assert.ok(!existsSync(join(rootfs, "app", "node_modules", "typescript")), "no dev dependency");
  assert.ok(!existsSync(join(rootfs, "bin", "sh")), "no shell");
});

test("`lifeboat --version` in the image prints the package's version; the root file system is read-only", async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
  const { stdout } = await inContainer({ args: ["--version"] });
  assert.equal(stdout.trim(), pkg.version);
  await assert.rejects(
    inContainer({
      entrypoint: ["/usr/bin/node", "-e", "require('fs').writeFileSync('/app/x', 'y')"],
      args: [],
    }),
    /EROFS: read-only file system/,
  );
});

test(
  "`lifeboat run` in the image evacuates a lab node make-before-break: Done, replicas kept, the node emptied",
  { timeout: 180_000 },
  async () => {
    await using env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [{ name: "img", zone: "us-east-1a", count: 3 }],
    });
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "img", replicas: 2, nodeGroup: "img", readyAfterSeconds: 1 }),
    });
    await waitUntil("2 Ready img pods", async () => (await readyPodCount(env.lab, "img")) === 2, {
      timeoutMs: 60_000,
    });
    const [node] = await nodesHolding(env.lab, "img");
    assert.ok(node !== undefined);
    // The kubeconfig as a pod would get it in a Secret: self-contained (the CA inlined), inside the image.
    const kubeconfig = parse(await readFile(env.lab.kubeconfigPath, "utf8")) as {
      clusters: { cluster: Record<string, string> }[];
    };
    for (const c of kubeconfig.clusters) {
      const caPath = c.cluster["certificate-authority"];
      if (caPath === undefined) continue;
      c.cluster["certificate-authority-data"] = (await readFile(caPath)).toString("base64");
      delete c.cluster["certificate-authority"];
    }
    const inImage = "/etc/lifeboat/kubeconfig";
    const ctx = { ...env.handlerContext("controller-in-image.log"), kubeconfigPath: inImage };
    const c = await containerCommand(rootfs, config, {
      args: [],
      files: { [inImage]: stringify(kubeconfig) },
    });
    await using controller = await startController({ ...ctx, executable: c });
    await using ready = new Sampler(() => readyPodCount(env.lab, "img"), 150);
    await env.sendSpotWarning(node);
    await waitFor(
      "the Evacuation in phase Done",
      async () => {
        const [e] = await env.evacuationsOf(node.name);
        return e?.status?.phase === "Done" ? e : undefined;
      },
      { timeoutMs: 90_000, alive: controller.assertRunning },
    );
    await waitUntil("no img pod left on the node", async () =>
      (await podsOf(env.lab, "img")).every((p) => p.spec?.nodeName !== node.name),
    );
    await waitUntil("2 Ready img pods again", async () => (await readyPodCount(env.lab, "img")) === 2);
    assert.equal(Math.min(...(await ready.stop())), 2, "Ready replicas never below 2: make before break");
    assert.ok(
      (await counter(controller, "lifeboat_evacuations_completed_total", { outcome: "done" })) >= 1,
      "the controller in the image did the evacuation (its /metrics count it)",
    );
  },
);

test("the Dockerfile describes the same image: Node version, user, entrypoint and cmd", async () => {
  const dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");
  const versions = await readFile(join(ROOT, "lab", "versions.env"), "utf8");
  const instruction = (name: string): string => new RegExp(`^${name} (.+)$`, "m").exec(dockerfile)?.[1] ?? "";
  assert.equal(/^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1], /^NODE_VERSION=(\S+)/m.exec(versions)?.[1]);
  assert.equal(instruction("USER"), config.config.User);
  assert.deepEqual(JSON.parse(instruction("ENTRYPOINT")), config.config.Entrypoint);
  assert.deepEqual(JSON.parse(instruction("CMD")), config.config.Cmd);
  assert.match(dockerfile, /^FROM gcr\.io\/distroless\/cc-debian12:nonroot$/m);
});
