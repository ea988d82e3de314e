/** The part of unzipper (exceljs' own unzip, the same version) that intake/xlsxWorkbook.ts drives. */
declare module 'unzipper' {
  import type { Duplex, PassThrough } from 'node:stream';

  /** One file of the archive, its bytes inflated as they are read. */
  interface Entry extends PassThrough { path: string }

  /** Takes the archive's bytes; gives an Entry per file (objects, with forceStream). */
  function Parse(opts: { forceStream: true }): Duplex;

  const unzipper: { Parse: typeof Parse };
  export default unzipper;
  export type { Entry };
}
