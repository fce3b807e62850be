/** Rows ↔ Polars frames and Parquet files. */
import { dirname } from "node:path";
import pl from "nodejs-polars";
import { type Column, type Row, ROW_COLUMNS } from "./schema.ts";

function polarsType(c: Column) {
  switch (c.type) {
    case "str":
      return pl.Utf8;
    case "i64":
      return pl.Int64;
    case "f64":
      return pl.Float64;
    case "bool":
      return pl.Bool;
    case "list_i64":
      return pl.List(pl.Int64);
  }
}

/** Build a frame column by column with the declared types (nulls kept). */
export function rowsToFrame(rows: Row[], columns: readonly Column[] = ROW_COLUMNS): pl.DataFrame {
  const series = columns.map((c) => pl.Series(c.name, rows.map((r) => r[c.name] ?? null), polarsType(c)));
  return pl.DataFrame(series);
}

/**
 * Write a frame as Parquet durably: a temporary file, fsync, rename over `path`, fsync of the folder — so a crash
 * or SIGKILL at any instant leaves either the old file or the new one, whole.
 */
export async function writeParquetAtomic(df: pl.DataFrame, path: string): Promise<void> {
  const tmp = `${path}.tmp`;
  df.writeParquet(tmp);
  await syncPath(tmp);
  await Deno.rename(tmp, path);
  await syncPath(dirname(path) || ".");
}

/** Write a text file the same durable way (manifests). */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await syncPath(tmp);
  await Deno.rename(tmp, path);
  await syncPath(dirname(path) || ".");
}

async function syncPath(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

/** A Parquet file's rows as plain records (the Row shape rowsToFrame takes back). */
export function readRowRecords(path: string): Row[] {
  return pl.readParquet(path).toRecords() as unknown as Row[];
}

/** Read a run's rows. */
export function readRows(path: string): pl.DataFrame {
  return pl.readParquet(path);
}
