/**
 * 64-byte-aligned typed arrays for the C kernels. V8 places an ArrayBuffer's
 * bytes 16 bytes past a cache-line boundary here, so every 64-byte vector load
 * of a kernel straddles two cache lines: measured on this machine, a streaming
 * read over such a buffer draws ~30 GB/s where the same code over an aligned
 * one draws ~40 GB/s. The kernels get aligned copies of their weights.
 * Needs FFI permission (the address of a buffer), as the C kernels do.
 */
import type { PreparedWeights } from "./formats.ts";

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

export const isAligned = (a: Typed): boolean => addressOf(a) % BigInt(ALIGNMENT) === 0n;

/** A zeroed array of `length` elements whose first byte sits on a 64-byte boundary. */
export function alignedArray<T extends Typed>(ctor: TypedCtor<T>, length: number): T {
  const buffer = new ArrayBuffer(length * ctor.BYTES_PER_ELEMENT + ALIGNMENT);
  const base = addressOf(new Uint8Array(buffer));
  const offset = Number((BigInt(ALIGNMENT) - base % BigInt(ALIGNMENT)) % BigInt(ALIGNMENT));
  return new ctor(buffer, offset, length);
}

/** `a` itself when aligned (and `copy` is false), else an aligned copy of it. */
export function alignedCopy<T extends Typed>(a: T, copy = false): T {
  if (!copy && (a.byteLength === 0 || isAligned(a))) return a;
  const out = alignedArray(a.constructor as TypedCtor<T>, a.length);
  (out as unknown as { set(src: T): void }).set(a);
  return out;
}

/** Prepared weights with every array a kernel reads 64-byte aligned; `copy` makes fresh copies even of
 * aligned ones (the benchmark's DRAM-resident copies). `dequantized` (read by references and tests, never
 * by a kernel) and other fields are shared. */
export function alignedWeights<P extends PreparedWeights>(p: P, copy = false): P {
  const out: Record<string, unknown> = { ...p };
  for (const [k, v] of Object.entries(p)) {
    if (k !== "dequantized" && ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      out[k] = alignedCopy(v as Typed, copy);
    }
  }
  return out as unknown as P;
}
