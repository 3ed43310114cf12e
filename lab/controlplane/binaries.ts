import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Pinned versions, read from lab/versions.env (the one place they are written). */
export interface LabVersions {
  KUBERNETES_VERSION: string;
  ETCD_VERSION: string;
  KWOK_VERSION: string;
  MOTO_VERSION: string;
  NODE_VERSION: string;
  HELM_VERSION: string;
  PROMETHEUS_OPERATOR_VERSION: string;
  /** cfn-lint from PyPI (lab/setup/install-cfn-lint.sh). */
  CFN_LINT_VERSION: string;
  /** amazon-ec2-metadata-mock (lab/setup/build-metadata-mock.sh). */
  AEMM_VERSION: string;
  NTH_VERSION: string;
}

export function readVersions(): LabVersions {
  const text = readFileSync(new URL("../versions.env", import.meta.url), "utf8");
  const entries = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(\S+)/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) entries.set(m[1], m[2]);
  }
  const get = (k: keyof LabVersions): string => {
    const v = entries.get(k);
    if (v === undefined) throw new Error(`lab/versions.env has no ${k}`);
    return v;
  };
  return {
    KUBERNETES_VERSION: get("KUBERNETES_VERSION"),
    ETCD_VERSION: get("ETCD_VERSION"),
    KWOK_VERSION: get("KWOK_VERSION"),
    MOTO_VERSION: get("MOTO_VERSION"),
    NODE_VERSION: get("NODE_VERSION"),
    HELM_VERSION: get("HELM_VERSION"),
    PROMETHEUS_OPERATOR_VERSION: get("PROMETHEUS_OPERATOR_VERSION"),
    CFN_LINT_VERSION: get("CFN_LINT_VERSION"),
    AEMM_VERSION: get("AEMM_VERSION"),
    NTH_VERSION: get("NTH_VERSION"),
  };
}

export function cacheDir(): string {
  return process.env["LIFEBOAT_CACHE"] ?? join(homedir(), ".cache", "lifeboat");
}

export interface LabBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
}

/** Where lab/setup/build-control-plane.sh put the binaries of the pinned versions. */
export function labBinaries(versions = readVersions()): LabBinaries {
  const bin = join(cacheDir(), "bin");
  const k8s = join(bin, `kubernetes-${versions.KUBERNETES_VERSION}`);
  return {
    etcd: join(bin, `etcd-${versions.ETCD_VERSION}`, "etcd"),
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    kubectl: join(k8s, "kubectl"),
    kwok: join(bin, `kwok-${versions.KWOK_VERSION}`, "kwok"),
  };
}

/** Where lab/setup/build-helm.sh put Helm of the pinned version (the chart tests run it). */
export function helmBinary(versions = readVersions()): string {
  return join(cacheDir(), "bin", `helm-${versions.HELM_VERSION}`, "helm");
}

/** Where lab/setup/fetch-prometheus-operator-crds.sh put the ServiceMonitor and PrometheusRule CRDs. */
export function prometheusOperatorCrdDir(versions = readVersions()): string {
  return join(cacheDir(), "crds", `prometheus-operator-${versions.PROMETHEUS_OPERATOR_VERSION}`);
}
