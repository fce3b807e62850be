/** Progress on stderr: a redrawn bar on a TTY, plain periodic lines otherwise. */

export interface Progress {
  tick(done: number, label: string): void;
  finish(): void;
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/** A progress reporter for `total` units of work; silent when `quiet`. */
export function progress(total: number, what: string, opts: { quiet?: boolean; intervalMs?: number } = {}): Progress {
  const t0 = performance.now();
  const tty = Deno.stderr.isTerminal();
  const interval = opts.intervalMs ?? (tty ? 100 : 5000);
  let last = -Infinity;
  const enc = new TextEncoder();
  const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
  const line = (done: number, label: string) => {
    const el = (performance.now() - t0) / 1000;
    const eta = done > 0 ? (el / done) * (total - done) : NaN;
    const pct = total ? (100 * done) / total : 100;
    if (tty) {
      const width = 24, fill = Math.round((width * done) / Math.max(total, 1));
      const bar = "█".repeat(fill) + "░".repeat(width - fill);
      const cols = (() => {
        try {
          return Deno.consoleSize().columns;
        } catch {
          return 100;
        }
      })();
      const text = `${what} ${bar} ${done}/${total} ${pct.toFixed(0)}% ${fmtSeconds(el)} ETA ${
        fmtSeconds(eta)
      } ${label}`;
      write(`\r\x1b[K${text.slice(0, cols - 1)}`);
    } else {
      write(
        `${what}: ${done}/${total} (${pct.toFixed(0)}%) elapsed ${fmtSeconds(el)} ETA ${fmtSeconds(eta)} ${label}\n`,
      );
    }
  };
  return {
    tick(done, label) {
      if (opts.quiet) return;
      const now = performance.now();
      if (now - last >= interval || done === total) {
        last = now;
        line(done, label);
      }
    },
    finish() {
      if (!opts.quiet && tty) write("\n");
    },
  };
}
