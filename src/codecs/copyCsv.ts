/** Writing values in the CSV dialect that `COPY ... WITH (FORMAT csv)` reads. */

const NEEDS_QUOTES = /[",\n\r]/;

/** One cell: null is SQL NULL (an empty unquoted cell); the empty string is quoted to stay ''. */
export function csvCell(value: string | null): string {
  if (value === null) return '';
  if (value === '') return '""';
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Postgres text cannot hold NUL; where a value must be kept anyway (error reports), it becomes U+FFFD. */
export function withoutNul(value: string | null): string | null {
  return value !== null && value.includes('\0') ? value.replace(/\0/g, '\uFFFD') : value;
}
