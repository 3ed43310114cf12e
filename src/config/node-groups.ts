/**
 * The per-node-group rebalance policy map: `--rebalance-policy-by-node-group "spot-a=evacuate,batch=ignore"`.
 * Kept apart from the schema so the parser has its own tests and the planner can ask `rebalancePolicyFor`.
 */

/** What lifeboat does on an EC2 Instance Rebalance Recommendation (a risk signal with no deadline yet). */
export const REBALANCE_POLICIES = ["ignore", "taint", "prewarm", "evacuate"] as const;
export type RebalancePolicy = (typeof REBALANCE_POLICIES)[number];

export type NodeGroupPolicies = ReadonlyMap<string, RebalancePolicy>;

export type NodeGroupParse = { ok: true; value: NodeGroupPolicies } | { ok: false; problems: string[] };

export function isRebalancePolicy(value: string): value is RebalancePolicy {
  return (REBALANCE_POLICIES as readonly string[]).includes(value);
}

/**
 * Parses "group=policy,group2=policy". Whitespace around names is ignored, an empty string is an empty map,
 * and every problem is reported (not only the first) so a user fixes them all in one go.
 */
export function parseNodeGroupPolicies(text: string): NodeGroupParse {
  const value = new Map<string, RebalancePolicy>();
  const problems: string[] = [];
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, value };
  for (const rawEntry of trimmed.split(",")) {
    const entry = rawEntry.trim();
    if (entry === "") {
      problems.push("empty entry (two commas in a row, or a trailing comma)");
      continue;
    }
    const eq = entry.indexOf("=");
    if (eq < 0) {
      problems.push(`entry '${entry}' is not of the form group=policy`);
      continue;
    }
    const group = entry.slice(0, eq).trim();
    const policy = entry.slice(eq + 1).trim();
    if (group === "") {
      problems.push(`entry '${entry}' has no node group name before '='`);
      continue;
    }
    if (!isRebalancePolicy(policy)) {
      problems.push(
        `node group '${group}' has policy '${policy}', expected one of ${REBALANCE_POLICIES.join(", ")}`,
      );
      continue;
    }
    if (value.has(group)) {
      problems.push(`node group '${group}' is listed more than once`);
      continue;
    }
    value.set(group, policy);
  }
  return problems.length === 0 ? { ok: true, value } : { ok: false, problems };
}

/** Renders a map back to the flag's syntax (for logs and `--help` round trips). */
export function formatNodeGroupPolicies(policies: NodeGroupPolicies): string {
  return [...policies].map(([group, policy]) => `${group}=${policy}`).join(",");
}

/** The policy for a node's group: the group's own entry when there is one, else the global policy. */
export function rebalancePolicyFor(
  config: { rebalancePolicy: RebalancePolicy; rebalancePolicyByNodeGroup: NodeGroupPolicies },
  nodeGroup: string | undefined,
): { policy: RebalancePolicy; reason: string } {
  if (nodeGroup !== undefined) {
    const own = config.rebalancePolicyByNodeGroup.get(nodeGroup);
    if (own !== undefined) return { policy: own, reason: `node group '${nodeGroup}' is set to '${own}'` };
  }
  const where =
    nodeGroup === undefined ? "the node has no node group" : `node group '${nodeGroup}' has no entry`;
  return {
    policy: config.rebalancePolicy,
    reason: `${where}; global rebalance policy is '${config.rebalancePolicy}'`,
  };
}
