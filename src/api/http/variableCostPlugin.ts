/**
 * graphql-armor's cost limit runs at validation, before variables are known, so it multiplies by
 * page sizes (`first`, `last`) only when they are written as literals; the same query with
 * `first: $n` would pass whatever $n is. At execution, still before any resolver runs, this
 * inlines the page-size variables as literals and checks the same cost rule again. A document
 * over the limit gets the rule's error as its result: over WebSocket, an error for that one
 * operation.
 */
import { GraphQLError, Kind, validate, visit, type ArgumentNode, type DocumentNode } from 'graphql';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import type { Plugin } from 'graphql-yoga';

const PAGE_SIZE_ARGUMENTS = new Set(['first', 'last']);

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
