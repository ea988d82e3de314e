/**
 * An import's options (collection, locationType) checked against its kind. Which kind takes
 * which option, and what it asks of it, is each kind's own `options`; nothing else names a kind.
 */
import { KINDS } from './index.js';
import { JOB_OPTION_NAMES, type ImportKind, type JobOptionName, type JobOptions } from './types.js';

export type GivenOptions = Partial<Record<JobOptionName, string | null | undefined>>;
export interface OptionRefusal { option: JobOptionName; message: string }

const kindsTaking = (name: JobOptionName) =>
  Object.values(KINDS).filter((k) => k.options?.some((o) => o.name === name)).map((k) => k.name).join(' or ');

/** Before the file is read: an option the kind does not take, or a value it refuses. */
export function refuseOptions(kind: ImportKind, given: GivenOptions): OptionRefusal | null {
  for (const name of JOB_OPTION_NAMES) {
    const value = given[name] ?? null;
    const option = kind.options?.find((o) => o.name === name);
    if (!option) {
      if (value !== null) return { option: name, message: `${name} is only for ${kindsTaking(name)} imports` };
      continue;
    }
    const why = option.refuse(value);
    if (why) return { option: name, message: why };
  }
  return null;
}

/** Once the file's columns are known: an option the file cannot go without. */
export function refuseMissingOptions(kind: ImportKind, given: GivenOptions, columns: readonly string[]): OptionRefusal | null {
  for (const option of kind.options ?? []) {
    if ((given[option.name] ?? null) !== null) continue;
    const why = option.refuseWithout?.(columns);
    if (why) return { option: option.name, message: why };
  }
  return null;
}

/** The options as the job keeps them. */
export function jobOptionsFor(kind: ImportKind, given: GivenOptions): JobOptions {
  const options = Object.fromEntries(JOB_OPTION_NAMES.map((name) => [name, null])) as JobOptions;
  for (const option of kind.options ?? []) {
    const value = given[option.name] ?? null;
    options[option.name] = value === null ? null : (option.stored?.(value) ?? value);
  }
  return options;
}
