/**
 * ggml's CPU kernels as a peer in the kernel benchmark (kernels/c/ggml_peer.c):
 * the libggml-base and libggml-cpu-<variant> that npm's @node-llama-cpp/linux-x64
 * ships, the variant chosen as llama.cpp's loader chooses it (the highest
 * ggml_backend_score on this CPU), and the binary's type table checked against
 * the ids and block sizes this project assumes before anything is timed.
 */
import { InputError } from "../errors.ts";
import { alignedArray } from "./aligned.ts";
import type { NativeLib } from "./native.ts";

const BINS = new URL("../../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/", import.meta.url).pathname;

/** The ggml types the peer runs: enum id, name, weights per block and bytes per block (ggml.h, ggml-common.h). */
export const GGML_PEER_TYPES = {
  f32: { id: 0, block: 1, bytes: 4 },
  q8_0: { id: 8, block: 32, bytes: 34 },
  q4_0: { id: 2, block: 32, bytes: 18 },
  q2_K: { id: 10, block: 256, bytes: 84 },
  q3_K: { id: 11, block: 256, bytes: 110 },
  tq1_0: { id: 34, block: 256, bytes: 54 },
  tq2_0: { id: 35, block: 256, bytes: 66 },
} as const;
export type GgmlPeerType = keyof typeof GGML_PEER_TYPES;
export const GGML_PEER_TYPE_NAMES = Object.keys(GGML_PEER_TYPES) as GgmlPeerType[];

export interface GgmlPrepared {
  type: GgmlPeerType;
  rows: number;
  cols: number;
  data: Uint8Array;
  bytes: number;
}

export interface GgmlPeer {
  /** ggml's version and commit as the library reports them. */
  version: string;
  /** The CPU variant library in use, e.g. "zen4". */
  variant: string;
  prepare(type: GgmlPeerType, rows: number, cols: number, w: Float32Array): GgmlPrepared;
  /** ggml's dequantization of prepared weights (to_float). */
  dequantize(p: GgmlPrepared): Float32Array;
  /** Y = X·Wᵀ for `batch` tokens; the activation conversion's and the dot products' ms. */
  run(
    p: GgmlPrepared,
    x: Float32Array,
    y: Float32Array,
    batch: number,
    threads: number,
  ): { actMs: number; dotMs: number };
  /** A copy of prepared weights in fresh memory (for DRAM-resident rotation). */
  copy(p: GgmlPrepared): GgmlPrepared;
}

const cstr = (s: string) => new TextEncoder().encode(s + "\0");

/** Every CPU variant library the package ships, with its score on this machine (0 or less: cannot run here). */
export function ggmlVariants(lib: NativeLib): { variant: string; path: string; score: number }[] {
  const out: { variant: string; path: string; score: number }[] = [];
  try {
    for (const e of Deno.readDirSync(BINS)) {
      const m = e.name.match(/^libggml-cpu-(.+)\.so$/);
      if (m) out.push({ variant: m[1], path: BINS + e.name, score: lib.sb_ggml_variant_score(cstr(BINS + e.name)) });
    }
  } catch {
    return [];
  }
  return out.sort((a, b) => b.score - a.score || a.variant.localeCompare(b.variant));
}

let opened: GgmlPeer | undefined;

/** ggml's kernels, opened once per process; a clear error when the npm package is missing or differs. */
export function openGgmlPeer(lib: NativeLib): GgmlPeer {
  if (opened) return opened;
  const best = ggmlVariants(lib)[0];
  if (!best || best.score <= 0) {
    throw new InputError(
      `--peers ggml: no usable libggml-cpu-*.so under ${BINS} (npm ci installs @node-llama-cpp/linux-x64)`,
    );
  }
  const info = new Uint8Array(512);
  if (lib.sb_ggml_open(cstr(`${BINS}libggml-base.so`), cstr(best.path), info, BigInt(info.length)) !== 0) {
    throw new InputError(`--peers ggml: cannot open ggml: ${cText(info)}`);
  }
  for (const [name, t] of Object.entries(GGML_PEER_TYPES)) {
    const nameBuf = new Uint8Array(64), v = new BigInt64Array(5);
    const ok = lib.sb_ggml_type_info(t.id, nameBuf, BigInt(nameBuf.length), v) === 0;
    if (!ok || cText(nameBuf) !== name || Number(v[0]) !== t.block || Number(v[1]) !== t.bytes || v[3] !== 1n) {
      throw new InputError(
        `--peers ggml: this ggml's type ${t.id} is ${ok ? cText(nameBuf) : "missing"} (${v[0]} weights / ${
          v[1]
        } bytes), not ${name} (${t.block} / ${t.bytes}): a ggml build this benchmark does not know`,
      );
    }
    if (v[4] === 1n) throw new InputError(`--peers ggml: ${name} needs an importance matrix to quantize`);
  }
  const scratch = new Map<number, Uint8Array>();
  const times = new Float64Array(2);
  return (opened = {
    version: cText(info),
    variant: best.variant,
    prepare(type, rows, cols, w) {
      const t = GGML_PEER_TYPES[type];
      if (cols % t.block !== 0) throw new InputError(`ggml ${type} needs columns in whole blocks of ${t.block}`);
      const bytes = rows * (cols / t.block) * t.bytes;
      const data = alignedArray(Uint8Array, bytes);
      const n = Number(lib.sb_ggml_quantize(t.id, w, data, BigInt(rows), BigInt(cols)));
      if (n !== bytes) throw new Error(`ggml quantized ${type} to ${n} bytes, expected ${bytes}`);
      return { type, rows, cols, data, bytes };
    },
    dequantize(p) {
      if (p.type === "f32") {
        return new Float32Array(p.data.buffer.slice(p.data.byteOffset, p.data.byteOffset + p.bytes));
      }
      const out = new Float32Array(p.rows * p.cols);
      lib.sb_ggml_dequantize(GGML_PEER_TYPES[p.type].id, p.data, out, BigInt(out.length));
      return out;
    },
    run(p, x, y, batch, threads) {
      // activations as vec_dot_type: at most 4 bytes a value plus block headers; one scratch per size
      const need = batch * (p.cols * 4 + 1024);
      let xq = scratch.get(need);
      if (!xq) scratch.set(need, xq = alignedArray(Uint8Array, need));
      const rc = lib.sb_ggml_gemv(
        GGML_PEER_TYPES[p.type].id,
        p.data,
        BigInt(p.rows),
        BigInt(p.cols),
        x,
        batch,
        y,
        threads,
        xq,
        times,
      );
      if (rc !== 0) throw new Error(`ggml has no vec_dot for ${p.type}`);
      return { actMs: times[0], dotMs: times[1] };
    },
    copy(p) {
      const data = alignedArray(Uint8Array, p.bytes, true); // whole huge pages, as subbit's bench copies
      data.set(p.data);
      return { ...p, data };
    },
  });
}

function cText(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end));
}
