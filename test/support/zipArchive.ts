/**
 * Zip archives written by hand (deflated, sizes in each local header, a central directory), for
 * workbooks exceljs' writer would take minutes to make: a part of hundreds of MiB of repeated XML
 * deflates to a few hundred KiB, and is built here one repeated chunk at a time.
 */
import zlib from 'node:zlib';

export interface ZipPart { name: string; text?: string; repeat?: { chunk: string; times: number; before?: string; after?: string } }

async function deflated(part: ZipPart): Promise<{ data: Buffer; crc: number; size: number }> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve, reject) => { deflate.on('end', resolve); deflate.on('error', reject); });
  let crc = 0;
  let size = 0;
  const write = async (bytes: Buffer) => {
    crc = zlib.crc32(bytes, crc);
    size += bytes.length;
    if (!deflate.write(bytes)) await new Promise((r) => deflate.once('drain', r));
  };
  if (part.text !== undefined) await write(Buffer.from(part.text));
  if (part.repeat) {
    if (part.repeat.before) await write(Buffer.from(part.repeat.before));
    const chunk = Buffer.from(part.repeat.chunk);
    for (let i = 0; i < part.repeat.times; i++) await write(chunk);
    if (part.repeat.after) await write(Buffer.from(part.repeat.after));
  }
  deflate.end();
  await ended;
  return { data: Buffer.concat(out), crc: crc >>> 0, size };
}

/** The archive of `parts`, in that order. */
export async function zipArchive(parts: ZipPart[]): Promise<Buffer> {
  const files: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const { data, crc, size } = await deflated(part);
    const name = Buffer.from(part.name);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4); // version needed
    head.writeUInt16LE(0, 6); // flags: sizes here, no data descriptor
    head.writeUInt16LE(8, 8); // deflate
    head.writeUInt32LE(0, 10); // time, date
    head.writeUInt32LE(crc, 14);
    head.writeUInt32LE(data.length, 18);
    head.writeUInt32LE(size, 22);
    head.writeUInt16LE(name.length, 26);
    head.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    directory.push(central, name);
    files.push(head, name, data);
    offset += head.length + name.length + data.length;
  }
  const dir = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...files, dir, end]);
}

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const RELS = 'http://schemas.openxmlformats.org/package/2006/relationships';
const OFFICE_RELS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

const column = (i: number) => String.fromCharCode(65 + i); // A..Z is all these workbooks need

/**
 * A one-sheet workbook: `rows` (cells as inline strings, the first the header), then `filler`
 * repeated `times` times inside its sheetData, in the order Excel writes its parts: the sheet
 * before the workbook part and its relationships (so a reader has to keep the sheet until it
 * knows them). `strings`: a shared strings part of that chunk (`<si>...</si>`) repeated, first.
 */
export function workbookArchive(rows: string[][], filler?: { chunk: string; times: number }, strings?: { chunk: string; times: number }): Promise<Buffer> {
  const sheetRows = rows.map((cells, r) =>
    `<row r="${r + 1}">${cells.map((v, c) => `<c r="${column(c)}${r + 1}" t="inlineStr"><is><t>${v}</t></is></c>`).join('')}</row>`).join('');
  return zipArchive([
    ...(strings ? [{ name: 'xl/sharedStrings.xml', repeat: { before: `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${MAIN}">`, ...strings, after: '</sst>' } }] : []),
    { name: '[Content_Types].xml', text: `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>` },
    { name: '_rels/.rels', text: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${RELS}"><Relationship Id="rId1" Type="${OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>` },
    { name: 'xl/worksheets/sheet1.xml', repeat: { before: `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${MAIN}"><sheetData>${sheetRows}`, chunk: filler?.chunk ?? '', times: filler?.times ?? 0, after: '</sheetData></worksheet>' } },
    { name: 'xl/workbook.xml', text: `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${MAIN}" xmlns:r="${OFFICE_RELS}"><sheets><sheet name="Roster" sheetId="1" r:id="rId1"/></sheets></workbook>` },
    { name: 'xl/_rels/workbook.xml.rels', text: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${RELS}"><Relationship Id="rId1" Type="${OFFICE_RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>` },
  ]);
}

/**
 * A one-sheet workbook in the order Excel writes its parts: the workbook part and its
 * relationships, then the sheet, its cells' texts as shared strings, then the shared strings (so
 * a reader has to keep the sheet until it has them). `filler` repeated `times` times inside the
 * sheetData makes the sheet as large as wanted.
 */
export function excelOrderWorkbook(rows: string[][], filler?: { chunk: string; times: number }): Promise<Buffer> {
  const strings: string[] = [];
  const index = (text: string) => { const at = strings.indexOf(text); return at >= 0 ? at : strings.push(text) - 1; };
  const sheetRows = rows.map((cells, r) =>
    `<row r="${r + 1}">${cells.map((v, c) => `<c r="${column(c)}${r + 1}" t="s"><v>${index(v)}</v></c>`).join('')}</row>`).join('');
  return zipArchive([
    { name: '[Content_Types].xml', text: `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>` },
    { name: '_rels/.rels', text: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${RELS}"><Relationship Id="rId1" Type="${OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>` },
    { name: 'xl/workbook.xml', text: `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${MAIN}" xmlns:r="${OFFICE_RELS}"><sheets><sheet name="Roster" sheetId="1" r:id="rId1"/></sheets></workbook>` },
    { name: 'xl/_rels/workbook.xml.rels', text: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${RELS}"><Relationship Id="rId1" Type="${OFFICE_RELS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${OFFICE_RELS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>` },
    { name: 'xl/worksheets/sheet1.xml', repeat: { before: `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${MAIN}"><sheetData>${sheetRows}`, chunk: filler?.chunk ?? '', times: filler?.times ?? 0, after: '</sheetData></worksheet>' } },
    { name: 'xl/sharedStrings.xml', text: `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${MAIN}" count="${strings.length}" uniqueCount="${strings.length}">${strings.map((s) => `<si><t>${s}</t></si>`).join('')}</sst>` },
  ]);
}
