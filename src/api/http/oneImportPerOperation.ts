/**
 * At most one import (uploadImport, importFromUrl, importBatch, importStagedUpload) per operation, checked when the
 * document is validated, before anything runs. Mutation fields run one after another and each
 * commits on its own: with two imports in one operation (aliases, or two fields sharing one
 * uploaded file) the first could queue its job while the second fails, and the client, seeing
 * the operation fail, would not know a job exists. So such an operation is refused whole.
 */
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const IMPORT_FIELDS = new Set(['uploadImport', 'importFromUrl', 'importBatch', 'importStagedUpload']);

export function oneImportPerOperation(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(OneImportPerOperationRule);
    },
  };
}

export function OneImportPerOperationRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(operation) {
      if (operation.operation !== 'mutation') return;
      // Fields under one response key are merged into one (validation makes sure they can be).
      const imports = [...new Set(rootImportFields(operation.selectionSet, (name) => context.getFragment(name), new Set()))];
      if (imports.length > 1) {
        context.reportError(new GraphQLError(
          `An operation may start one import; this one starts ${imports.length} (${imports.join(', ')}). Send each import in a request of its own`,
          { nodes: operation },
        ));
      }
    },
  };
}

/** The response keys of the import fields among an operation's root fields, following fragments (each once). */
function rootImportFields(set: SelectionSetNode, fragment: (name: string) => FragmentDefinitionNode | null | undefined, seen: Set<string>): string[] {
  const found: string[] = [];
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (IMPORT_FIELDS.has(selection.name.value)) found.push(selection.alias?.value ?? selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      found.push(...rootImportFields(selection.selectionSet, fragment, seen));
    } else {
      const name = selection.name.value;
      const definition = fragment(name);
      if (!definition || seen.has(name)) continue;
      seen.add(name);
      found.push(...rootImportFields(definition.selectionSet, fragment, seen));
    }
  }
  return found;
}
