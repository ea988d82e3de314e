/**
 * The memory of a process and all its descendants (the server and the embedded PostgreSQL it
 * runs: postmaster, background workers, one backend per connection), from /proc.
 *
 * Two sums, because Postgres processes share memory (shared buffers, the binary's pages): RSS
 * counts a shared page once in every process that touched it, so its sum overstates what the
 * tree takes; PSS splits each shared page between the processes sharing it, so its sum is what
 * the tree takes from the machine, and what the targets are judged on (embedded.ts).
 *
 * PSS has a price: /proc/PID/smaps_rollup walks the process's page tables under its memory map
 * lock, so sampling it through an import slows the import (the processes' own page faults wait).
 * The RSS sum alone comes from /proc/PID/status, which reads counters. So a timed import samples
 * RSS only, and PSS is sampled through imports that are not timed.
 */
import fs from 'node:fs/promises';

const MB = 1024 * 1024;

/** pssMb is null when only RSS was read. */
export interface TreeMemory { processes: number; rssMb: number; pssMb: number | null }

async function children(): Promise<Map<number, number[]>> {
  const byParent = new Map<number, number[]>();
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: fields count from its last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(name));
      byParent.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  return byParent;
}

export async function treePids(root: number): Promise<number[]> {
  const byParent = await children();
  const pids: number[] = [];
  for (const queue = [root]; queue.length;) {
    const pid = queue.shift()!;
    pids.push(pid);
    queue.push(...(byParent.get(pid) ?? []));
  }
  return pids;
}

const kbField = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;

async function memoryOf(pid: number, pss: boolean): Promise<{ rss: number; pss: number } | null> {
  try {
    if (!pss) return { rss: kbField(await fs.readFile(`/proc/${pid}/status`, 'utf8'), 'VmRSS'), pss: 0 };
    const rollup = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    return { rss: kbField(rollup, 'Rss'), pss: kbField(rollup, 'Pss') };
  } catch {
    return null;
  }
}

async function memoryOfPids(pids: number[], pss: boolean): Promise<TreeMemory> {
  const found = (await Promise.all(pids.map((pid) => memoryOf(pid, pss)))).filter((m) => m !== null);
  return {
    processes: found.length,
    rssMb: found.reduce((n, m) => n + m.rss, 0) / MB,
    pssMb: pss ? found.reduce((n, m) => n + m.pss, 0) / MB : null,
  };
}

export async function treeMemory(root: number, opts: { pss: boolean } = { pss: true }): Promise<TreeMemory> {
  return memoryOfPids(await treePids(root), opts.pss);
}

const higher = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** The higher of each sum (a PSS read in either). */
export const higherMemory = (a: TreeMemory, b: TreeMemory): TreeMemory => ({
  processes: Math.max(a.processes, b.processes), rssMb: Math.max(a.rssMb, b.rssMb), pssMb: higher(a.pssMb, b.pssMb),
});

/** Finding the tree reads every process's stat file: done once a second, not at every sample. */
const TREE_REFRESH_MS = 1000;

/** Samples a tree's memory every `intervalMs` and keeps the highest sums seen. */
export class TreeMonitor {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private pids: number[] = [];
  private pidsAt = 0;
  peak: TreeMemory;

  constructor(private readonly root: number, private readonly opts: { pss: boolean; intervalMs?: number }) {
    this.peak = this.empty();
  }

  private empty(): TreeMemory { return { processes: 0, rssMb: 0, pssMb: this.opts.pss ? 0 : null }; }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (performance.now() - this.pidsAt >= TREE_REFRESH_MS) {
        this.pids = await treePids(this.root);
        this.pidsAt = performance.now();
      }
      this.peak = higherMemory(this.peak, await memoryOfPids(this.pids, this.opts.pss));
    } finally {
      this.busy = false;
    }
  }

  start(): void {
    this.peak = this.empty();
    this.pidsAt = 0;
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs ?? 200);
  }

  async stop(): Promise<TreeMemory> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sample();
    return this.peak;
  }
}
