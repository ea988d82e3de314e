/**
 * What error messages and introspection tell a client about the schema. Both are envelop hooks
 * (validate, execute, subscribe), so they hold over HTTP and over WebSocket alike: Yoga's own
 * disable-introspection plugin decides per HTTP request (onRequestParse), which a WebSocket
 * operation never passes through.
 */
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';

/** Refuses `__schema` and `__type` at validation (`__typename` stays). */
export function noIntrospectionPlugin(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/**
 * graphql-js ends some messages with names from the schema: unknown fields and arguments, enum
 * values and input fields, in literals (validation) and in variables (coercion, at execution):
 * `... Did you mean the enum value "EVENTS"?`. graphql-armor's field-suggestion block matches
 * only the first kind and only at validation. This drops the last "Did you mean ...?" from every
 * error message, wherever it was made.
 */
const SUGGESTION = /\s*Did you mean (?:(?!Did you mean )[\s\S])*\?$/;

function withoutSuggestion<E>(error: E): E {
  if (error instanceof GraphQLError && SUGGESTION.test(error.message)) error.message = error.message.replace(SUGGESTION, '');
  return error;
}

function resultWithoutSuggestions({ result, setResult }: { result: ExecutionResult; setResult: (r: ExecutionResult) => void }) {
  if (result.errors?.some((e) => SUGGESTION.test(e.message))) setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
}

export function noSuggestionsPlugin(): Plugin {
  return {
    onValidate: () => ({ result, setResult }) => {
      if (result.some((e) => SUGGESTION.test(e.message))) setResult(result.map(withoutSuggestion));
    },
    onExecute: () => ({ onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, resultWithoutSuggestions) }),
    onSubscribe: () => ({ onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, resultWithoutSuggestions) }),
  };
}
