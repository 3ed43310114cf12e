/** Where the Evacuation CustomResourceDefinition lives in the repository (the chart ships a copy in crds/). */
import { fileURLToPath } from "node:url";

export const EVACUATION_CRD_PATH = fileURLToPath(
  new URL("../../deploy/crds/lifeboat.dev_evacuations.yaml", import.meta.url),
);

/** The CRD's coordinates, for clients of the custom objects API. */
export const EVACUATION_CRD = {
  group: "lifeboat.dev",
  version: "v1alpha1",
  plural: "evacuations",
  kind: "Evacuation",
  name: "evacuations.lifeboat.dev",
} as const;
