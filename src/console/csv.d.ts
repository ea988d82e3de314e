/** Types for csv.js (the browser loads the .js as is; tests import it). */
export declare function csvCell(value: unknown): string;
export declare function errorsCsv(errors: Array<{ line: number; column?: string | null; value?: string | null; message: string }>): string;
