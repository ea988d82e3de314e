/**
 * importBatch's records as NDJSON lines. They come parsed from the request's JSON, where nothing
 * bounds their nesting but the body's size; JSON.stringify recurses, so a record some thousands of
 * levels deep overflowed the stack (an "Unexpected error." for the whole batch). Such a record is
 * written without recursion instead, and the row pipeline then refuses it like a file's row
 * nested too deep: a row error, and the other records imported.
 */

/** One record's JSON text. The records are plain JSON values (no undefined, functions or toJSON). */
export function recordLine(record: unknown): string {
  try {
    return JSON.stringify(record) ?? 'null';
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return stringifyWithoutRecursion(record);
  }
}

interface OpenContainer { entries: [string | null, unknown][]; next: number; close: string }

function stringifyWithoutRecursion(value: unknown): string {
  const out: string[] = [];
  const stack: OpenContainer[] = [];
  const write = (v: unknown) => {
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ entries: v.map((item) => [null, item]), next: 0, close: ']' });
    } else if (typeof v === 'object' && v !== null) {
      out.push('{');
      stack.push({ entries: Object.entries(v), next: 0, close: '}' });
    } else {
      out.push(JSON.stringify(v) ?? 'null');
    }
  };
  write(value);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next === top.entries.length) {
      out.push(top.close);
      stack.pop();
      continue;
    }
    const [key, item] = top.entries[top.next];
    if (top.next++ > 0) out.push(',');
    if (key !== null) out.push(JSON.stringify(key), ':');
    write(item);
  }
  return out.join('');
}
