/**
 * The fault proxy in front of the lab's kube-apiserver, and a kubeconfig that points a client at it.
 *
 * How the controller authenticates to the lab: a bearer token (the lab's static token file) over HTTPS,
 * verified against the API server's self-signed serving certificate (`certificate-authority` in the lab's
 * kubeconfig). The proxy serves HTTPS with that same certificate and key (valid for 127.0.0.1), so the
 * kubeconfig it writes differs from the lab's only in the server URL: same CA, same token, which the proxy
 * forwards unchanged. client-node verifies the proxy's certificate as it would the API server's; nothing is
 * switched to plain HTTP or insecure-skip-tls-verify.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ControlPlane } from "../controlplane/control-plane.ts";
import { startFaultProxy, type FaultProxy } from "./proxy.ts";

export interface KubeFaultProxy extends AsyncDisposable {
  proxy: FaultProxy;
  /** A kubeconfig like the lab's, with the server set to the proxy. */
  kubeconfigPath: string;
}

let seq = 0;

export async function startKubeFaultProxy(
  controlPlane: Pick<ControlPlane, "server" | "dir" | "caPath" | "kubeconfigPath">,
): Promise<KubeFaultProxy> {
  const pki = join(controlPlane.dir, "pki");
  const [cert, key, ca, kubeconfig] = await Promise.all([
    readFile(join(pki, "apiserver.crt")),
    readFile(join(pki, "apiserver.key")),
    readFile(controlPlane.caPath),
    readFile(controlPlane.kubeconfigPath, "utf8"),
  ]);
  const proxy = await startFaultProxy({
    upstream: controlPlane.server,
    flavor: "kube",
    tls: { cert, key },
    upstreamCa: ca,
  });
  const kubeconfigPath = join(controlPlane.dir, `kubeconfig-fault-proxy-${++seq}`);
  const lines = kubeconfig
    .split("\n")
    .map((l) => (/^\s+server: /.test(l) ? l.replace(/server: .*/, `server: ${proxy.url}`) : l));
  if (!lines.some((l) => l.includes(proxy.url)))
    throw new Error("fault proxy: no server line in the lab's kubeconfig");
  await writeFile(kubeconfigPath, lines.join("\n"));
  return { proxy, kubeconfigPath, [Symbol.asyncDispose]: () => proxy.close() };
}
