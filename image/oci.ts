/**
 * An OCI image layout written directly (https://github.com/opencontainers/image-spec: image-layout.md,
 * manifest.md, config.md): each layer a reproducible tar of a folder (sorted names, numeric owners, fixed
 * mtime), gzipped; blobs named by their sha256; no daemon, no registry, no third-party tool. Any OCI tool
 * reads the result (`skopeo copy oci:DIR docker://REGISTRY/lifeboat:TAG`, `crane push`, `podman load`).
 */
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform, type TransformCallback } from "node:stream";
import { createGzip } from "node:zlib";

export const MEDIA_TYPES = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
  index: "application/vnd.oci.image.index.v1+json",
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A layer as written: its blob (gzip) descriptor and the digest of the uncompressed tar (the diff_id). */
export interface Layer {
  descriptor: Descriptor;
  diffId: string;
  /** What the layer holds, for the config's history. */
  createdBy: string;
}

/** The image configuration's runtime part (config.md "config"). */
export interface RuntimeConfig {
  User: string;
  Env: string[];
  Entrypoint: string[];
  Cmd: string[];
  WorkingDir: string;
  Labels: Record<string, string>;
}

export interface ImageConfig {
  created: string;
  architecture: string;
  os: "linux";
  config: RuntimeConfig;
  rootfs: { type: "layers"; diff_ids: string[] };
  history: { created: string; created_by: string }[];
}

/** Hashes and counts the bytes flowing through. */
class Digester extends Transform {
  readonly hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/**
 * Writes `dir` as a gzipped tar layer into `layoutDir/blobs/sha256/`. Entries are the folder's top-level
 * names (no "./" prefix), sorted, with their numeric owners and modes as staged and mtime `epoch`.
 */
export async function writeLayer(
  layoutDir: string,
  dir: string,
  createdBy: string,
  epoch = 0,
): Promise<Layer> {
  const blobs = join(layoutDir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const entries = (await readdir(dir)).sort();
  const tar = spawn(
    "tar",
    [
      "--create",
      "--format=posix",
      "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
      "--sort=name",
      "--numeric-owner",
      `--mtime=@${epoch}`,
      "--directory",
      dir,
      "--",
      ...entries,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  tar.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) =>
    tar.once("close", (code) => {
      resolve(code ?? 1);
    }),
  );
  const uncompressed = new Digester();
  const compressed = new Digester();
  const tmp = join(blobs, `.layer-${randomUUID()}.tmp`);
  await pipeline(tar.stdout, uncompressed, createGzip(), compressed, createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new Error(`tar of ${dir} failed (exit ${code}): ${stderr.trim()}`);
  const digest = compressed.digest();
  await rename(tmp, join(blobs, digest.slice("sha256:".length)));
  return {
    descriptor: { mediaType: MEDIA_TYPES.layer, digest, size: compressed.size },
    diffId: uncompressed.digest(),
    createdBy,
  };
}

/** Writes a JSON blob and returns its descriptor. */
async function writeJsonBlob(layoutDir: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash("sha256").update(bytes).digest("hex");
  await mkdir(join(layoutDir, "blobs", "sha256"), { recursive: true });
  await writeFile(join(layoutDir, "blobs", "sha256", hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

export interface WrittenImage {
  /** The manifest's digest: what `image.digest` in the chart's values pins. */
  manifestDigest: string;
  config: ImageConfig;
  layers: Layer[];
  /** Bytes a registry stores and a node pulls: the compressed layers, the config and the manifest. */
  compressedSize: number;
}

/** Writes config, manifest, index.json and oci-layout for `layers`, tagged `ref` in the index. */
export async function writeImage(
  layoutDir: string,
  init: {
    layers: Layer[];
    architecture: string;
    runtime: RuntimeConfig;
    ref: string;
    created?: string;
    annotations?: Record<string, string>;
  },
): Promise<WrittenImage> {
  const created = init.created ?? "1970-01-01T00:00:00Z";
  const config: ImageConfig = {
    created,
    architecture: init.architecture,
    os: "linux",
    config: init.runtime,
    rootfs: { type: "layers", diff_ids: init.layers.map((l) => l.diffId) },
    history: init.layers.map((l) => ({ created, created_by: l.createdBy })),
  };
  const configDescriptor = await writeJsonBlob(layoutDir, MEDIA_TYPES.config, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: configDescriptor,
    layers: init.layers.map((l) => l.descriptor),
    ...(init.annotations === undefined ? {} : { annotations: init.annotations }),
  };
  const manifestDescriptor = await writeJsonBlob(layoutDir, MEDIA_TYPES.manifest, manifest);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        ...manifestDescriptor,
        platform: { architecture: init.architecture, os: "linux" },
        annotations: { "org.opencontainers.image.ref.name": init.ref },
      },
    ],
  };
  await writeFile(join(layoutDir, "index.json"), JSON.stringify(index, null, 2));
  await writeFile(join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return {
    manifestDigest: manifestDescriptor.digest,
    config,
    layers: init.layers,
    compressedSize:
      init.layers.reduce((n, l) => n + l.descriptor.size, 0) +
      configDescriptor.size +
      manifestDescriptor.size,
  };
}
