/**
 * The UTF-8 check the spool runs on every text file (spool/utf8Check.ts): fed in pieces cut at any
 * byte, inside characters too, it finds the first byte that is not UTF-8 exactly where a whole-file
 * check does, with its line and byte, and says nothing of a valid file.
 */
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { locate, Utf8Check } from '../src/spool/utf8Check.js';

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const SAMPLES = ['a', 'Z', ',', '\n', '\r\n', '"', 'é', 'ß', 'Ω', '€', '中', '文', '😀', '𝄞', '\u00a0', '\ufeff'];

function text(rand: () => number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += SAMPLES[Math.floor(rand() * SAMPLES.length)];
  return s;
}

function check(bytes: Buffer, rand: () => number, countLines = true) {
  const c = new Utf8Check(countLines);
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 5 : 200));
    c.feed(bytes.subarray(at, at + n));
    at += n;
  }
  return c.finish();
}

function expected(bytes: Buffer, offset: number) {
  const before = bytes.subarray(0, offset);
  const lines = before.toString('latin1').split('\n');
  return { offset, line: lines.length, byte: lines.at(-1)!.length + 1 };
}

describe('Utf8Check', () => {
  it('passes valid UTF-8 cut into pieces anywhere', () => {
    const rand = random(1);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(text(rand, 1 + Math.floor(rand() * 300)));
      expect(check(bytes, rand)).toBeNull();
    }
  });

  it('finds a byte no character starts with, an overlong form, a surrogate or a cut-off character at its place', () => {
    const rand = random(2);
    const breaks = [[0xff], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82, 0x41]];
    for (let i = 0; i < 600; i++) {
      const head = Buffer.from(text(rand, Math.floor(rand() * 200)));
      const bad = Buffer.from(breaks[i % breaks.length]);
      const bytes = Buffer.concat([head, bad, Buffer.from(text(rand, Math.floor(rand() * 50)))]);
      expect(isUtf8(bytes)).toBe(false);
      expect(check(bytes, rand)).toEqual(expected(bytes, head.length));
      // Without counting lines as it goes, the same place; locate finds its line from the bytes.
      const quiet = check(bytes, rand, false)!;
      expect(quiet.offset).toBe(head.length);
      expect(locate(quiet.offset, (into, at) => bytes.copy(into, 0, at, at + into.length), Buffer.alloc(7))).toEqual(expected(bytes, head.length));
    }
  });

  it('a character cut off by the end of the file', () => {
    const rand = random(3);
    for (let i = 0; i < 100; i++) {
      const head = Buffer.from(text(rand, Math.floor(rand() * 100)));
      const cut = Buffer.from('😀').subarray(0, 1 + (i % 3));
      expect(check(Buffer.concat([head, cut]), rand)).toEqual(expected(Buffer.concat([head, cut]), head.length));
    }
  });
});
