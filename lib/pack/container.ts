/**
 * The .subbit container: a quantized model, written streaming and read
 * tensor by tensor.
 *
 *   "SBIT" | u32 format version | u32 n | header JSON (n bytes) | u32 CRC-32(header JSON)
 *   tensor records (record.ts), one per tensor
 *   "SEND" | u32 tensor count
 */
import { InputError } from "../errors.ts";
import { readExactly } from "../tensor/decode.ts";
import { crc32 } from "../coding/crc32.ts";
import { parseRecordBody, RECORD_MAGIC, serializeRecord, type TensorRecord } from "./record.ts";

export const CONTAINER_MAGIC = "SBIT";
export const END_MAGIC = "SEND";
export const FORMAT_VERSION = 1;

export interface ContainerHeader {
  format: "subbit";
  version: number;
  model_config: Record<string, unknown>;
  source: { path: string; sha256: string };
  /** Per tensor: name and how it was stored (config_id or "f32"). */
  tensors: { name: string; config_id: string }[];
  created_by: string;
}

const enc = new TextEncoder();

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await f.write(bytes.subarray(done));
}

/** Streaming writer: header first, then records as they are produced; written to `path.tmp` and renamed on close. */
export class ContainerWriter {
  private count = 0;
  private constructor(private readonly file: Deno.FsFile, private readonly path: string) {}

  static async create(path: string, header: ContainerHeader): Promise<ContainerWriter> {
    const file = await Deno.open(`${path}.tmp`, { write: true, create: true, truncate: true });
    const json = enc.encode(JSON.stringify(header));
    const head = new Uint8Array(12 + json.length + 4);
    const dv = new DataView(head.buffer);
    head.set(enc.encode(CONTAINER_MAGIC), 0);
    dv.setUint32(4, FORMAT_VERSION, true);
    dv.setUint32(8, json.length, true);
    head.set(json, 12);
    dv.setUint32(12 + json.length, crc32(json), true);
    await writeAll(file, head);
    return new ContainerWriter(file, path);
  }

  async add(record: TensorRecord): Promise<number> {
    const { bytes } = serializeRecord(record);
    await writeAll(this.file, bytes);
    this.count++;
    return bytes.length;
  }

  async close(): Promise<void> {
    const end = new Uint8Array(8);
    end.set(enc.encode(END_MAGIC));
    new DataView(end.buffer).setUint32(4, this.count, true);
    await writeAll(this.file, end);
    this.file.close();
    await Deno.rename(`${this.path}.tmp`, this.path);
  }

  /** Drop the partial file (on failure). */
  async abort(): Promise<void> {
    try {
      this.file.close();
    } catch { /* already closed */ }
    await Deno.remove(`${this.path}.tmp`).catch(() => {});
  }
}

/** Reads a container's header, then streams its records one at a time from disk (each CRC-checked). */
export class ContainerReader {
  private constructor(
    private readonly file: Deno.FsFile,
    private readonly size: number,
    readonly path: string,
    readonly header: ContainerHeader,
    private readonly start: number,
  ) {}

  static async open(path: string): Promise<ContainerReader> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path);
    } catch (e) {
      throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
    }
    try {
      const size = (await file.stat()).size;
      const first = size >= 16 ? await readExactly(file, 0, 12, path) : new Uint8Array(0);
      if (first.length < 12 || new TextDecoder().decode(first.subarray(0, 4)) !== CONTAINER_MAGIC) {
        throw new InputError(`${path}: not a .subbit file (bad magic at byte 0)`);
      }
      const dv = new DataView(first.buffer);
      const version = dv.getUint32(4, true);
      if (version !== FORMAT_VERSION) {
        throw new InputError(
          `${path}: format version ${version} is not supported (this reader reads ${FORMAT_VERSION})`,
        );
      }
      const n = dv.getUint32(8, true);
      if (12 + n + 4 > size) throw new InputError(`${path}: truncated header (needs ${n} bytes at byte 12)`);
      const rest = await readExactly(file, 12, n + 4, path);
      const json = rest.subarray(0, n);
      if (crc32(json) !== new DataView(rest.buffer).getUint32(n, true)) {
        throw new InputError(`${path}: header CRC mismatch at byte ${12 + n}`);
      }
      return new ContainerReader(file, size, path, parseHeader(json, path), 12 + n + 4);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  async *records(): AsyncGenerator<TensorRecord> {
    let p = this.start, count = 0;
    for (;;) {
      if (p + 8 > this.size) throw new InputError(`${this.path}: truncated at byte ${p} (no end marker)`);
      const head = await readExactly(this.file, p, 8, this.path);
      const magic = new TextDecoder().decode(head.subarray(0, 4));
      const n = new DataView(head.buffer).getUint32(4, true);
      if (magic === END_MAGIC) {
        if (n !== count) {
          throw new InputError(`${this.path}: end marker at byte ${p} says ${n} tensors, found ${count}`);
        }
        if (p + 8 !== this.size) {
          throw new InputError(`${this.path}: ${this.size - p - 8} bytes after the end marker at byte ${p}`);
        }
        return;
      }
      if (magic !== RECORD_MAGIC) throw new InputError(`${this.path}: corrupt record marker at byte ${p}`);
      if (p + 8 + n + 4 > this.size) {
        throw new InputError(
          `${this.path}: record at byte ${p} is truncated (needs ${n + 12} bytes, file has ${this.size - p})`,
        );
      }
      const body = await readExactly(this.file, p + 8, n + 4, this.path);
      yield parseRecordBody(body.subarray(0, n), new DataView(body.buffer).getUint32(n, true), p, this.path);
      p += 8 + n + 4;
      count++;
    }
  }

  close(): void {
    this.file.close();
  }
}

/** The header JSON, checked for the fields readers use (a CRC only says the bytes are as written, not well formed). */
function parseHeader(json: Uint8Array, path: string): ContainerHeader {
  let h: ContainerHeader;
  try {
    h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new InputError(`${path}: corrupt header JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const ok = h && typeof h === "object" && !Array.isArray(h) && Array.isArray(h.tensors) &&
    h.tensors.every((t) => t && typeof t.name === "string" && typeof t.config_id === "string") &&
    (h.model_config === undefined || (typeof h.model_config === "object" && h.model_config !== null));
  if (!ok) throw new InputError(`${path}: header lacks a well-formed "tensors" list`);
  return h;
}
