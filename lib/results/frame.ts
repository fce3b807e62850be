/** Rows ↔ Polars frames and Parquet files. */
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

/** Write a frame as Parquet via a temporary file and rename, so an existing file is never half-replaced. */
export async function writeParquetAtomic(df: pl.DataFrame, path: string): Promise<void> {
  const tmp = `${path}.tmp`;
  df.writeParquet(tmp);
  await Deno.rename(tmp, path);
}

/** Read a run's rows. */
export function readRows(path: string): pl.DataFrame {
  return pl.readParquet(path);
}
