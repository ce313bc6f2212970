import { OPCUA_NODE_ID, parseBrowsePath, type BrowseName, type OpcuaPoint } from '@gatehouse/devices';

/**
 * Where a device's variables are, worked out from its `node`, its profile and the server's
 * namespace table: pure, so that it is tested without a server. Namespace indexes are a server's
 * own numbering and may change when it is restarted or reconfigured (Part 3 §8.2.2), so a profile
 * speaks of namespaces by URI and the indexes are looked up on every connection.
 */

/** The standard Objects folder (ns=0;i=85), where a device's browse path starts. */
export const OBJECTS_FOLDER = 'ns=0;i=85';

/** A browse name qualified by the namespace index the server uses today. */
export interface QualifiedName {
  namespaceIndex: number;
  name: string;
}

/** A variable to subscribe to: a NodeId, or a browse path from a start node to be translated by the server. */
export type VariableTarget = { kind: 'node'; nodeId: string } | { kind: 'path'; startingNode: string; path: QualifiedName[] };

/** A NodeId in `ns=` form with an `nsu=` URI replaced by its index; an error when the server has no such namespace. */
export function resolveNodeId(nodeId: string, namespaces: readonly string[]): { nodeId: string } | { error: string } {
  const match = /^nsu=([^;]+);(.*)$/.exec(nodeId);
  if (!match) return { nodeId };
  const index = namespaces.indexOf(match[1]!);
  return index < 0 ? { error: `the server has no namespace ${match[1]!}` } : { nodeId: `ns=${index};${match[2]!}` };
}

function qualify(steps: readonly BrowseName[], profileNamespace: number): QualifiedName[] {
  return steps.map((step) => ({ namespaceIndex: step.namespace ?? profileNamespace, name: step.name }));
}

/**
 * Where a device's point is: its own NodeId, or its browse path below the device's node (`node` a
 * NodeId or a browse path from Objects; none: Objects itself), every unprefixed browse name in the
 * profile's namespace.
 */
export function targetOf(
  point: OpcuaPoint,
  node: string | undefined,
  profileNamespace: string,
  namespaces: readonly string[],
): VariableTarget | { error: string } {
  if (point.nodeId !== undefined) {
    const resolved = resolveNodeId(point.nodeId, namespaces);
    return 'error' in resolved ? resolved : { kind: 'node', nodeId: resolved.nodeId };
  }
  const index = namespaces.indexOf(profileNamespace);
  if (index < 0) return { error: `the server has no namespace ${profileNamespace}` };
  const below = qualify(point.browsePath ?? [], index);
  if (node !== undefined && OPCUA_NODE_ID.test(node)) {
    const start = resolveNodeId(node, namespaces);
    return 'error' in start ? start : { kind: 'path', startingNode: start.nodeId, path: below };
  }
  const above = node === undefined ? [] : qualify(parseBrowsePath(node), index);
  return { kind: 'path', startingNode: OBJECTS_FOLDER, path: [...above, ...below] };
}

/** A target as an installer reads it in a log: `Objects/2:Lifts/2:Car1/2:Floor` or `ns=2;s=Car1.Floor`. */
export function describeTarget(target: VariableTarget): string {
  if (target.kind === 'node') return target.nodeId;
  const start = target.startingNode === OBJECTS_FOLDER ? 'Objects' : target.startingNode;
  return [start, ...target.path.map((step) => `${step.namespaceIndex}:${step.name}`)].join('/');
}
