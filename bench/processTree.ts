/**
 * The memory of a process and all its descendants (the server and the embedded PostgreSQL it
 * runs: postmaster, background workers, one backend per connection), from /proc.
 *
 * Two sums, because Postgres processes share memory (shared buffers, the binary's pages): RSS
 * counts a shared page once in every process that touched it, so its sum overstates what the
 * tree takes; PSS splits each shared page between the processes sharing it, so its sum is what
 * the tree takes from the machine, and what the targets are judged on (embedded.ts).
 */
import fs from 'node:fs/promises';

const MB = 1024 * 1024;

export interface TreeMemory { processes: number; rssMb: number; pssMb: number }

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

async function memoryOf(pid: number): Promise<{ rss: number; pss: number } | null> {
  try {
    const rollup = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return null;
  }
}

export async function treeMemory(root: number): Promise<TreeMemory> {
  const found = (await Promise.all((await treePids(root)).map(memoryOf))).filter((m) => m !== null);
  return {
    processes: found.length,
    rssMb: found.reduce((n, m) => n + m.rss, 0) / MB,
    pssMb: found.reduce((n, m) => n + m.pss, 0) / MB,
  };
}

/** Samples a tree's memory every `intervalMs` and keeps the highest sums seen. */
export class TreeMonitor {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  peak: TreeMemory = { processes: 0, rssMb: 0, pssMb: 0 };

  constructor(private readonly root: number, private readonly intervalMs = 200) {}

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const m = await treeMemory(this.root);
      this.peak = {
        processes: Math.max(this.peak.processes, m.processes), rssMb: Math.max(this.peak.rssMb, m.rssMb), pssMb: Math.max(this.peak.pssMb, m.pssMb),
      };
    } finally {
      this.busy = false;
    }
  }

  start(): void {
    this.peak = { processes: 0, rssMb: 0, pssMb: 0 };
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  async stop(): Promise<TreeMemory> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sample();
    return this.peak;
  }
}
