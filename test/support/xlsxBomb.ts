/**
 * A hand-made XLSX workbook whose shared strings inflate from a few hundred KiB to `stringBytes`
 * (one long string again and again, which deflate packs ~1000:1): the zip bomb an .xlsx can be.
 * Written by hand because a spreadsheet library keeps each distinct string once.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(chunks: Buffer[]): number {
  let crc = 0xffffffff;
  for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) crc = CRC_TABLE[(crc ^ chunk[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface Entry { name: string; chunks: Buffer[] }

/** A zip of deflated entries (no zip64: each entry under 4 GiB). */
async function zip(entries: Entry[]): Promise<Buffer> {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, chunks } of entries) {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    const crc = crc32(chunks);
    const data = await deflate(chunks);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(data.length, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(nameBytes.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0); dir.writeUInt16LE(20, 4); dir.writeUInt16LE(20, 6); dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(crc, 16); dir.writeUInt32LE(data.length, 20); dir.writeUInt32LE(size, 24); dir.writeUInt16LE(nameBytes.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    central.push(dir, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralBytes, end]);
}

/** One raw deflate stream over the chunks, without holding them all inflated at once. */
async function deflate(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of Readable.from(chunks).pipe(zlib.createDeflateRaw({ level: 9 }))) out.push(piece as Buffer);
  return Buffer.concat(out);
}

const XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const RELS = 'http://schemas.openxmlformats.org/package/2006/relationships';
const OFFICE = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

/** An .xlsx whose sharedStrings.xml inflates to about `stringBytes`, and whose one sheet has one cell. */
export function xlsxBomb(stringBytes: number): Promise<Buffer> {
  const item = Buffer.from(`<si><t>${'A'.repeat(1000)}</t></si>`.repeat(1000));
  const count = Math.ceil(stringBytes / item.length);
  const text = (s: string) => [Buffer.from(s)];
  return zip([
    { name: '[Content_Types].xml', chunks: text(`${XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`) },
    { name: '_rels/.rels', chunks: text(`${XML}<Relationships xmlns="${RELS}"><Relationship Id="rId1" Type="${OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>`) },
    { name: 'xl/workbook.xml', chunks: text(`${XML}<workbook xmlns="${MAIN}" xmlns:r="${OFFICE}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`) },
    { name: 'xl/_rels/workbook.xml.rels', chunks: text(`${XML}<Relationships xmlns="${RELS}"><Relationship Id="rId1" Type="${OFFICE}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${OFFICE}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`) },
    {
      name: 'xl/sharedStrings.xml',
      chunks: [Buffer.from(`${XML}<sst xmlns="${MAIN}">`), ...Array.from({ length: count }, () => item), Buffer.from('</sst>')],
    },
    { name: 'xl/worksheets/sheet1.xml', chunks: text(`${XML}<worksheet xmlns="${MAIN}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`) },
  ]);
}
