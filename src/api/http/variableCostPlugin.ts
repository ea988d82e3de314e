/**
 * graphql-armor's cost limit runs at validation, before variables are known, so it multiplies by
 * page sizes (`first`, `last`) only when they are written as literals; the same query with
 * `first: $n` would pass whatever $n is. And it knows nothing of `nodes(ids:)`, which fetches one
 * node per id: a list of ids, literal or variable, counted as one node. At execution, still before
 * any resolver runs, this inlines the page-size variables as literals, gives each list of ids a
 * page size of its length, and checks the same cost rule again. A document over the limit gets the
 * rule's error as its result: over WebSocket, an error for that one operation.
 */
import { GraphQLError, Kind, validate, visit, type ArgumentNode, type DocumentNode, type FieldNode, type ValueNode } from 'graphql';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import type { Plugin } from 'graphql-yoga';

const PAGE_SIZE_ARGUMENTS = new Set(['first', 'last']);
/** Arguments that fetch one node per element (the relay plugin's `nodes(ids:)`). */
const NODE_LIST_ARGUMENTS = new Set(['ids']);

/** How many elements a list argument holds, from its literal or its variable. */
function listLength(value: ValueNode, variables: Record<string, unknown>): number | null {
  if (value.kind === Kind.LIST) return value.values.length;
  if (value.kind === Kind.VARIABLE) {
    const list = variables[value.name.value];
    return Array.isArray(list) ? list.length : null;
  }
  return null;
}

function inlinePageSizes(document: DocumentNode, variables: Record<string, unknown>): DocumentNode | null {
  let changed = false;
  const inlined = visit(document, {
    Argument(node: ArgumentNode) {
      if (!PAGE_SIZE_ARGUMENTS.has(node.name.value) || node.value.kind !== Kind.VARIABLE) return undefined;
      const value = variables[node.value.name.value];
      if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
      changed = true;
      return { ...node, value: { kind: Kind.INT, value: String(value) } };
    },
    Field: {
      // After its arguments (leave): a page size the rule reads, from the length of its list of ids.
      leave(node: FieldNode) {
        const ids = node.arguments?.find((a) => NODE_LIST_ARGUMENTS.has(a.name.value));
        const length = ids ? listLength(ids.value, variables) : null;
        if (length === null || length <= 1) return undefined;
        changed = true;
        const pageSize: ArgumentNode = { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'first' }, value: { kind: Kind.INT, value: String(length) } };
        return { ...node, arguments: [...(node.arguments ?? []).filter((a) => !PAGE_SIZE_ARGUMENTS.has(a.name.value)), pageSize] };
      },
    },
  });
  return changed ? inlined : null;
}

export function variableCostPlugin(maxCost: number): Plugin {
  const rule = costLimitRule({ maxCost, ignoreIntrospection: true });
  const check = (args: { schema: Parameters<typeof validate>[0]; document: DocumentNode; variableValues?: unknown }) => {
    const inlined = inlinePageSizes(args.document, (args.variableValues ?? {}) as Record<string, unknown>);
    if (!inlined) return [];
    try {
      return validate(args.schema, inlined, [rule]);
    } catch (err) {
      // The rule throws its error rather than reporting it (graphql-armor's propagateOnRejection).
      if (err instanceof GraphQLError) return [err];
      throw err;
    }
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const errors = check(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = check(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}
