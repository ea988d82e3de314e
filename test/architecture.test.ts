/**
 * The layout's rules, checked on the real import graph (dependency-cruiser, rules in
 * .dependency-cruiser.cjs): no ring between files, none between folders, the worker threads
 * never load the database layer; and no file in src/ is past 400 lines.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

interface Module { source: string; dependencies: { resolved: string; coreModule?: boolean; couldNotResolve?: boolean }[] }
interface Violation { rule: { name: string }; from: string; to: string }
interface CruiseResult { modules: Module[]; summary: { violations: Violation[] } }

let cruise: CruiseResult;

beforeAll(async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['node_modules/dependency-cruiser/bin/dependency-cruise.mjs', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 })
    // it exits non-zero on violations, which are asserted below
    .catch((err: { stdout?: string; stderr?: string; message: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr || err.message }));
  if (!stdout.trim()) throw new Error(`dependency-cruiser gave no result: ${stderr}`);
  cruise = JSON.parse(stdout) as CruiseResult;
});

/**
 * A folder directly under src/ (a stage: intake, spool, parse...) is one node, its subfolders
 * included; a file directly in src/ (main, app, config, logger) is a node of its own.
 */
export function folderOf(file: string): string {
  const [, top, rest] = file.split('/');
  return rest === undefined ? file : `src/${top}`;
}

/** The strongly connected groups of a directed graph (Tarjan) with more than one member: its rings. */
export function ringsOf(edges: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>(); const low = new Map<string, number>();
  const stack: string[] = []; const onStack = new Set<string>(); const rings: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next++; stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); group.push(w); } while (w !== v);
      if (group.length > 1) rings.push(group.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return rings;
}

describe('architecture', () => {
  it('breaks none of the rules: no ring between files, the threads stay off the database, every import resolves', () => {
    expect(cruise.modules.length).toBeGreaterThan(50);
    expect(cruise.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  it('has no ring between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const m of cruise.modules) {
      if (!m.source.startsWith('src/')) continue;
      for (const d of m.dependencies) {
        if (!d.resolved.startsWith('src/')) continue;
        const from = folderOf(m.source); const to = folderOf(d.resolved);
        if (from === to) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
      }
    }
    expect(edges.size).toBeGreaterThan(10);
    expect(ringsOf(edges)).toEqual([]);
  });

  it('keeps every file in src/ within 400 lines, so one person can hold a module in their head', () => {
    const files = fs.readdirSync('src', { recursive: true, encoding: 'utf8' })
      .filter((f) => !f.startsWith('generated') && fs.statSync(`src/${f}`).isFile());
    expect(files.length).toBeGreaterThan(100);
    const long = files.map((f) => ({ f, lines: fs.readFileSync(`src/${f}`, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400).map(({ f, lines }) => `src/${f}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it('finds a ring where there is one (the check itself works)', () => {
    const edges = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
    expect(ringsOf(edges)).toEqual([['a', 'b', 'c']]);
  });
});
