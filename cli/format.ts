/** Human output: aligned tables and colours; machine output: JSON. */
import pc from 'picocolors';

/** Renders rows as an aligned table with a bold header. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))));
  // eslint-disable-next-line no-control-regex -- ANSI colour codes take no width
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => visible(r[i] ?? ''))));
  const line = (r: readonly string[]) => r.map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - visible(c)))).join('  ').trimEnd();
  return [pc.bold(line(headers)), ...cells.map(line)].join('\n');
}

/** Colours a status word by its meaning. */
export function status(s: string | undefined): string {
  if (!s) return '';
  if (/SUCCEEDED|REPAIRED|COMPLETED|CONFIRMED|RESOLVED|OK|COMPENSATED$/.test(s) && !/FAILED/.test(s)) return pc.green(s);
  if (/RUNNING|PENDING|RECHECKING|DETECTED|WAITING/.test(s)) return pc.yellow(s);
  if (/FAILED|ESCALATED|ABORTED|TIMED_OUT|NEEDS_HUMAN|MISMATCH|MISSING|EXTRA|INCOMPLETE/.test(s)) return pc.red(s);
  return s;
}

/** Milliseconds as `1h02m`, `3m04s`, `5.2s`. */
export function duration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Prints JSON to stdout (indented: one document per command run). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
