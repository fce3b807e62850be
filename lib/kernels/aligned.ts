/**
 * 64-byte-aligned typed arrays for the C kernels. V8 places an ArrayBuffer's
 * bytes 16 bytes past a cache-line boundary here, so every 64-byte vector load
 * of a kernel straddles two cache lines: measured on this machine, a streaming
 * read over such a buffer draws ~30 GB/s where the same code over an aligned
 * one draws ~40 GB/s. The kernels get aligned copies of their weights.
 * Needs FFI permission (the address of a buffer), as the C kernels do.
 */
import type { PreparedWeights } from "./formats.ts";
import { adviseHugePages, HUGE_PAGE_BYTES } from "./huge_pages.ts";

export const ALIGNMENT = 64;

type Typed =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array;

interface TypedCtor<T extends Typed> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** The address of a typed array's first byte. */
export function addressOf(a: Typed): bigint {
  if (a.byteLength === 0) return 0n;
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(a as Uint8Array<ArrayBuffer>));
}

/** Whether `a` starts on an `align`-byte boundary (a cache line unless told). */
export const isAligned = (a: Typed, align: number = ALIGNMENT): boolean => addressOf(a) % BigInt(align) === 0n;

/**
 * A zeroed array of `length` elements whose first byte sits on a 64-byte boundary. Arrays of 2 MiB or more start on
 * a 2 MiB boundary instead, advised onto huge pages before their first write (huge_pages.ts): weights streamed from
 * DRAM by one core read 1–5 % faster so (Zen 5, docs/kernels.md). The bytes before the boundary are never touched:
 * they cost address space, not memory. The last partial huge page stays on small pages, unless `wholeHugePages`
 * (the benchmark's DRAM copies, so that every copy reads as the bulk of a large matrix does): then the array's
 * last huge page is whole, up to 2 MiB more memory.
 */
export function alignedArray<T extends Typed>(ctor: TypedCtor<T>, length: number, wholeHugePages = false): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  if (alignmentFor(bytes) === ALIGNMENT) {
    const buffer = new ArrayBuffer(bytes + ALIGNMENT);
    return new ctor(buffer, offsetTo(buffer, ALIGNMENT), length);
  }
  const advised = wholeHugePages ? Math.ceil(bytes / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES : bytes;
  const buffer = new ArrayBuffer(advised + HUGE_PAGE_BYTES);
  const offset = offsetTo(buffer, HUGE_PAGE_BYTES);
  adviseHugePages(new Uint8Array(buffer, offset, advised));
  return new ctor(buffer, offset, length);
}

/** The boundary alignedArray puts an array of `bytes` on: a cache line, or a huge page from 2 MiB on. */
const alignmentFor = (bytes: number): number => bytes >= HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : ALIGNMENT;

/** Bytes from the start of `buffer` to its first `align`-byte boundary. */
function offsetTo(buffer: ArrayBuffer, align: number): number {
  const base = addressOf(new Uint8Array(buffer));
  return Number((BigInt(align) - base % BigInt(align)) % BigInt(align));
}

/** `a` itself when aligned as alignedArray aligns (64 bytes; 2 MiB from 2 MiB on) and `copy` is false, else an
 * aligned copy of it (`wholeHugePages`: alignedArray's). */
export function alignedCopy<T extends Typed>(a: T, copy = false, wholeHugePages = false): T {
  if (!copy && (a.byteLength === 0 || isAligned(a, alignmentFor(a.byteLength)))) return a;
  const out = alignedArray(a.constructor as TypedCtor<T>, a.length, wholeHugePages);
  (out as unknown as { set(src: T): void }).set(a);
  return out;
}

/** Prepared weights with every array a kernel reads 64-byte aligned; `copy` makes fresh copies even of
 * aligned ones (the benchmark's DRAM-resident copies, each on whole huge pages). `dequantized` (read by
 * references and tests, never by a kernel) and other fields are shared. */
export function alignedWeights<P extends PreparedWeights>(p: P, copy = false): P {
  const out: Record<string, unknown> = { ...p };
  for (const [k, v] of Object.entries(p)) {
    if (k !== "dequantized" && ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      out[k] = alignedCopy(v as Typed, copy, copy);
    }
  }
  return out as unknown as P;
}
