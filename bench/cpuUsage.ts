/**
 * Where an import's CPU time goes, read from /proc: the server process (all its threads), the
 * Postgres processes (backends and background workers alike), this benchmark's own process (the
 * client that uploads and follows), and the whole machine's busy share. On 2 cores, an import
 * whose machine share is near 100% is bounded by CPU, not by waiting.
 */
import fs from 'node:fs/promises';

/** /proc counts in clock ticks, USER_HZ, which is 100 on Linux whatever the kernel's HZ. */
const TICK_S = 0.01;

export interface CpuSnapshot { server: number; postgres: number; client: number; machineBusy: number; machineTotal: number }
export interface CpuFigures {
  /** CPU-seconds in the interval. */
  serverS: number;
  postgresS: number;
  clientS: number;
  /** Busy share of all cores, 0..1. */
  machineBusy: number;
}

async function processTicks(pid: number | string): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, inside parentheses): utime is the 14th field.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function postgresTicks(): Promise<number> {
  let total = 0;
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      if (comm === 'postgres' || comm === 'postmaster') total += await processTicks(pid);
    } catch { /* the process ended meanwhile */ }
  }
  return total;
}

export async function cpuSnapshot(serverPid: number | null): Promise<CpuSnapshot> {
  const [cpu] = (await fs.readFile('/proc/stat', 'utf8')).split('\n');
  const ticks = cpu.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3] + (ticks[4] ?? 0); // idle + iowait
  const { user, system } = process.cpuUsage();
  return {
    server: serverPid === null ? 0 : await processTicks(serverPid),
    postgres: await postgresTicks(),
    client: (user + system) / 1e6 / TICK_S,
    machineBusy: total - idle,
    machineTotal: total,
  };
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuFigures {
  return {
    serverS: (b.server - a.server) * TICK_S,
    postgresS: (b.postgres - a.postgres) * TICK_S,
    clientS: (b.client - a.client) * TICK_S,
    machineBusy: (b.machineBusy - a.machineBusy) / Math.max(1, b.machineTotal - a.machineTotal),
  };
}
