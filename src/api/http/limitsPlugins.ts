/**
 * Limits on what one GraphQL document may ask for, checked when it is parsed and validated, i.e.
 * before any resolver runs, over HTTP and WebSocket alike: depth, aliases, tokens, directives,
 * cost (graphql-armor). Error messages never suggest names from the schema, and in production
 * introspection is off as well (schemaPrivacyPlugins.ts).
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../../config.js';
import { noIntrospectionPlugin, noSuggestionsPlugin } from './schemaPrivacyPlugins.js';
import { variableCostPlugin } from './variableCostPlugin.js';

export function limitsPlugins(config: Config): Plugin[] {
  const plugins: Plugin[] = [
    EnvelopArmorPlugin({
      maxDepth: { n: config.graphqlMaxDepth, ignoreIntrospection: true },
      maxAliases: { n: config.graphqlMaxAliases },
      maxTokens: { n: config.graphqlMaxTokens },
      maxDirectives: { n: 10 },
      costLimit: { maxCost: config.graphqlMaxCost, ignoreIntrospection: true },
      // noSuggestionsPlugin covers these and the messages this one misses.
      blockFieldSuggestion: { enabled: false },
    }) as Plugin,
    noSuggestionsPlugin(),
  ];
  plugins.push(variableCostPlugin(config.graphqlMaxCost));
  if (config.production) plugins.push(noIntrospectionPlugin());
  return plugins;
}
