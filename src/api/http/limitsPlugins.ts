/**
 * Limits on what one GraphQL document may ask for, checked when it is parsed and validated, i.e.
 * before any resolver runs, over HTTP and WebSocket alike: depth, aliases, tokens, directives,
 * cost (graphql-armor). In production introspection is off as well, and field suggestions never
 * leak the schema in error messages.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../../config.js';
import { variableCostPlugin } from './variableCostPlugin.js';

export function limitsPlugins(config: Config): Plugin[] {
  const plugins: Plugin[] = [
    EnvelopArmorPlugin({
      maxDepth: { n: config.graphqlMaxDepth, ignoreIntrospection: true },
      maxAliases: { n: config.graphqlMaxAliases },
      maxTokens: { n: config.graphqlMaxTokens },
      maxDirectives: { n: 10 },
      costLimit: { maxCost: config.graphqlMaxCost, ignoreIntrospection: true },
      blockFieldSuggestion: { enabled: true },
    }) as Plugin,
  ];
  plugins.push(variableCostPlugin(config.graphqlMaxCost));
  if (config.production) plugins.push(useDisableIntrospection() as Plugin);
  return plugins;
}
