/**
 * Runs the image without an OCI runtime daemon: its layers unpacked into a folder, then the image's own
 * config (entrypoint, cmd, env, user) run in a private mount namespace (`unshare --mount`) with the root file
 * system read-only (a read-only bind mount, like Kubernetes' readOnlyRootFilesystem), a tmpfs on /tmp, /proc,
 * the few device nodes a process needs, and `chroot --userspec` to the image's user. Host network, as a
 * pod with hostNetwork: the lab's API server and moto listen on loopback. Needs root (CI runs as root) and
 * util-linux's unshare and coreutils' chroot (in every Debian). The working directory is "/" (chroot has no
 * --chdir); the app does not depend on it.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { ImageConfig } from "./oci.ts";

const exec = promisify(execFile);

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}

const blobPath = (layoutDir: string, digest: string): string =>
  join(layoutDir, "blobs", "sha256", digest.replace(/^sha256:/, ""));

/** Unpacks the image's layers, in order, into `rootfs` (which must be empty); returns the image's config. */
export async function unpackImage(layoutDir: string, rootfs: string): Promise<ImageConfig> {
  const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const [entry] = index.manifests;
  if (entry === undefined) throw new Error(`${layoutDir}/index.json lists no manifest`);
  const manifest = JSON.parse(await readFile(blobPath(layoutDir, entry.digest), "utf8")) as Manifest;
  const config = JSON.parse(
    await readFile(blobPath(layoutDir, manifest.config.digest), "utf8"),
  ) as ImageConfig;
  await mkdir(rootfs, { recursive: true });
  await chmod(rootfs, 0o755);
  for (const layer of manifest.layers)
    await exec("tar", ["-xzf", blobPath(layoutDir, layer.digest), "--numeric-owner", "-C", rootfs]);
  return config;
}

export interface ContainerOptions {
  /** Replaces the image's Cmd (like a pod's `args`). */
  args?: string[];
  /** Replaces the image's Entrypoint (like a pod's `command`). */
  entrypoint?: string[];
  /** Added to the image's Env (like a pod's `env`). */
  env?: Record<string, string>;
  /** Files to place before the root is made read-only (like mounted Secrets), path in the image -> content. */
  files?: Record<string, string>;
}

/** The host command (file, args, env) that runs the unpacked image as a container would. */
export async function containerCommand(
  rootfs: string,
  config: ImageConfig,
  options: ContainerOptions = {},
): Promise<{ file: string; args: string[]; env: Record<string, string> }> {
  for (const [path, content] of Object.entries(options.files ?? {})) {
    await mkdir(dirname(join(rootfs, path)), { recursive: true });
    await writeFile(join(rootfs, path), content, { mode: 0o644 });
  }
  // Mount points the runtime provides (the image has none of them).
  for (const d of ["proc", "dev", "tmp"]) await mkdir(join(rootfs, d), { recursive: true });
  for (const dev of ["null", "zero", "random", "urandom"]) await writeFile(join(rootfs, "dev", dev), "");
  const argv = [...(options.entrypoint ?? config.config.Entrypoint), ...(options.args ?? config.config.Cmd)];
  const script = [
    'set -e; r="$1"; shift; u="$1"; shift',
    'mount --bind "$r" "$r"',
    'mount -o remount,bind,ro "$r"',
    'mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp"',
    'mount -t proc proc "$r/proc"',
    'for d in null zero random urandom; do mount --bind "/dev/$d" "$r/dev/$d"; done',
    'exec chroot --userspec="$u" "$r" "$@"',
  ].join("\n");
  const env: Record<string, string> = {};
  for (const kv of config.config.Env) {
    const i = kv.indexOf("=");
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  Object.assign(env, options.env ?? {});
  // The host's tools are found by absolute path: PATH is the image's.
  return {
    file: "/usr/bin/unshare",
    args: [
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      script.replaceAll("mount ", "/bin/mount ").replaceAll("exec chroot", "exec /usr/sbin/chroot"),
      "container",
      rootfs,
      config.config.User,
      ...argv,
    ],
    env,
  };
}
