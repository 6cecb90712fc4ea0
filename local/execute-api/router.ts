/**
 * The REST API's resource tree, built once from the routes. A request path picks a resource the way API Gateway
 * does: per segment a literal child beats `{param}`, which beats `{proxy+}` (greedy, one or more segments), with
 * backtracking when a branch cannot consume the rest of the path. The method is looked up afterwards on the
 * resource found, so a resource that exists without the method (or an intermediate resource with no methods at
 * all) ends in "Missing Authentication Token", as in AWS.
 */
import { stableId } from '../ids.ts';
import type { RouteSpec } from '../types.ts';

export interface Resource {
  /** Template path, e.g. /links/{id} (event.resource, requestContext.resourcePath). */
  path: string;
  /** Stable 6-character id, shaped like API Gateway's (requestContext.resourceId). */
  id: string;
  /** Upper-case method (or ANY) → route. */
  methods: Map<string, RouteSpec>;
}

interface Node {
  resource: Resource;
  literal: Map<string, Node>;
  param?: { name: string; node: Node };
  greedy?: { name: string; node: Node };
}

export interface Match {
  resource: Resource;
  /** URL-decoded; null when the resource has no parameters (as event.pathParameters). */
  params: Record<string, string> | null;
}

const PARAM = /^\{([A-Za-z0-9._-]+)\}$/;
const GREEDY = /^\{([A-Za-z0-9._-]+)\+\}$/;

const resourceId = (path: string): string => stableId([path], 6);

function newNode(path: string): Node {
  return { resource: { path, id: resourceId(path), methods: new Map() }, literal: new Map() };
}

/** decodeURIComponent that leaves a malformed escape as it was instead of throwing. */
export function safeDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export class Router {
  private readonly root = newNode('/');

  constructor(routes: RouteSpec[]) {
    for (const route of routes) this.add(route);
  }

  private add(route: RouteSpec): void {
    const segments = route.path.split('/').filter((s) => s !== '');
    let node = this.root;
    let path = '';
    segments.forEach((segment, index) => {
      path += `/${segment}`;
      const greedy = GREEDY.exec(segment);
      const param = greedy ? null : PARAM.exec(segment);
      if (greedy) {
        if (index !== segments.length - 1) throw new Error(`Greedy segment must be last: ${route.path}`);
        if (node.greedy && node.greedy.name !== greedy[1]) {
          throw new Error(`Conflicting greedy parameters under the same resource: ${route.path}`);
        }
        node.greedy ??= { name: greedy[1] as string, node: newNode(path) };
        node = node.greedy.node;
      } else if (param) {
        if (node.param && node.param.name !== param[1]) {
          // API Gateway refuses sibling {a} and {b} too.
          throw new Error(`Conflicting path parameters {${node.param.name}} and ${segment} in ${route.path}`);
        }
        node.param ??= { name: param[1] as string, node: newNode(path) };
        node = node.param.node;
      } else {
        if (segment.includes('{') || segment.includes('}')) throw new Error(`Unsupported path segment: ${route.path}`);
        let next = node.literal.get(segment);
        if (next === undefined) {
          next = newNode(path);
          node.literal.set(segment, next);
        }
        node = next;
      }
    });
    const method = route.method.toUpperCase();
    if (node.resource.methods.has(method)) throw new Error(`Duplicate route ${method} ${route.path}`);
    node.resource.methods.set(method, { ...route, method });
  }

  /** `rawPath` is the path after the stage, still percent-encoded (e.g. /links/a%20b). */
  match(rawPath: string): Match | undefined {
    const raw = rawPath.split('/').filter((s) => s !== '');
    const decoded = raw.map(safeDecode);
    const params: Record<string, string> = {};
    const node = this.walk(this.root, raw, decoded, 0, params);
    if (node === undefined) return undefined;
    return { resource: node.resource, params: Object.keys(params).length > 0 ? params : null };
  }

  private walk(node: Node, raw: string[], decoded: string[], i: number, params: Record<string, string>): Node | undefined {
    if (i === raw.length) return node;
    const segment = decoded[i] as string;
    const literal = node.literal.get(segment);
    if (literal !== undefined) {
      const found = this.walk(literal, raw, decoded, i + 1, params);
      if (found !== undefined) return found;
    }
    if (node.param !== undefined) {
      const found = this.walk(node.param.node, raw, decoded, i + 1, params);
      if (found !== undefined) {
        params[node.param.name] = segment;
        return found;
      }
    }
    if (node.greedy !== undefined) {
      params[node.greedy.name] = safeDecode(raw.slice(i).join('/'));
      return node.greedy.node;
    }
    return undefined;
  }
}
