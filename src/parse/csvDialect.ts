/**
 * A CSV file's delimiter: the one given, else a tab for a `.tsv` file, else the one of `,` `;`
 * tab `|` that the header line uses most outside quotes (Excel writes `;` where the decimal mark
 * is a comma). A comma on a tie, and when the header has none of them (one column).
 */

export const DETECTED_DELIMITERS = [',', ';', '\t', '|'] as const;

/** Why a given delimiter cannot be used, or null. The readers compare bytes, so it is one ASCII character. */
export function refuseDelimiter(delimiter: string): string | null {
  if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7e || (delimiter < ' ' && delimiter !== '\t')) {
    return 'delimiter must be one ASCII character, such as "," ";" "|" or a tab ("\\t")';
  }
  if (delimiter === '"') return 'delimiter cannot be the quote character';
  return null;
}

/** The delimiter of a CSV file whose first line is `headerLine`. */
export function csvDelimiter(headerLine: string, given: string | null | undefined, filename: string | null | undefined): string {
  if (given) return given;
  if (/\.tsv$/i.test(filename ?? '')) return '\t';
  return detectDelimiter(headerLine);
}

export function detectDelimiter(headerLine: string): string {
  const counts = new Map<string, number>(DETECTED_DELIMITERS.map((d) => [d, 0]));
  let inQuotes = false;
  for (const c of headerLine) {
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = ',';
  for (const d of DETECTED_DELIMITERS) if (counts.get(d)! > counts.get(best)!) best = d;
  return best;
}
