/**
 * A line chart as a standalone SVG file, written by hand: a few series over time, axes with round
 * ticks, a legend and vertical markers for events. Small enough not to need a plotting library,
 * and the file reads in any browser or Markdown viewer.
 */

export interface Series { name: string; color: string; points: [number, number][] }
export interface Marker { x: number; label: string }

const WIDTH = 760;
const HEIGHT = 360;
const PAD = { left: 70, right: 20, top: 56, bottom: 50 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round steps (1, 2 or 5 times a power of ten) that cut 0..max into about `count` pieces. */
function ticks(max: number, count: number): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const out: number[] = [];
  // The last tick is at or past `max`, so that every point lies inside the axes.
  for (let v = 0; out.length === 0 || out.at(-1)! < max; v += step) out.push(v);
  return out;
}

const short = (v: number) => (v >= 1000 ? `${Math.round(v / 1000)}k` : String(Math.round(v * 10) / 10));

export function lineChartSvg(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; markers?: Marker[] }): string {
  const all = opts.series.flatMap((s) => s.points);
  const xTicks = ticks(Math.max(1, ...all.map(([x]) => x), ...(opts.markers ?? []).map((m) => m.x)), 10);
  const yTicks = ticks(Math.max(1, ...all.map(([, y]) => y)), 6);
  const xMax = xTicks.at(-1)!;
  const yMax = yTicks.at(-1)!;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + (x / xMax) * plotW;
  const sy = (y: number) => PAD.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escape(opts.title)}</text>`,
  ];
  for (const y of yTicks) {
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${sy(y) + 4}" text-anchor="end">${short(y)}</text>`);
  }
  for (const x of xTicks) {
    parts.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH + 4}" stroke="#333"/>`);
    parts.push(`<text x="${sx(x)}" y="${PAD.top + plotH + 18}" text-anchor="middle">${short(x)}</text>`);
  }
  parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escape(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(opts.yLabel)}</text>`);
  for (const m of opts.markers ?? []) {
    parts.push(`<line x1="${sx(m.x)}" x2="${sx(m.x)}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#888" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${sx(m.x) + 4}" y="${PAD.top + 14}" fill="#555">${escape(m.label)}</text>`);
  }
  opts.series.forEach((s, i) => {
    if (s.points.length) {
      const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
    // The legend: one row above the plot, so it never hides a line.
    const lx = PAD.left + i * 170;
    const ly = PAD.top - 14;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 24}" y="${ly + 4}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
