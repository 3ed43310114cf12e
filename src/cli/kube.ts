import { KubeConfig } from "@kubernetes/client-node";

/** A KubeConfig from a path, else $KUBECONFIG / ~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) {
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod");
  }
  return kc;
}
