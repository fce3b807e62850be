/**
 * The C kernels through Deno FFI: loads kernels/build/libsubbit_native.so
 * (or the portable build), building it with gcc when missing. Returns null
 * when no library can be had (no gcc): callers fall back to TypeScript.
 * SUBBIT_NO_NATIVE=1 forces the fallback.
 */
import { buildKernels, libraryPath } from "./build.ts";

/** Both sparse_ternary layouts' kernels: row offsets, the layout's two arrays, scale, Σw, xu, sx, Xt, Y, rows, cp,
 * B, threads (kernels/c/gemv_sparse.c). */
const SPARSE_GEMV = {
  parameters: [
    "buffer",
    "buffer",
    "buffer",
    "buffer",
    "buffer",
    "buffer",
    "buffer",
    "buffer",
    "buffer",
    "i64",
    "i64",
    "i32",
    "i32",
  ],
  result: "void",
} as const;

const SYMBOLS = {
  sb_rc_encode_static: { parameters: ["buffer", "i64", "buffer", "i32", "buffer", "i64"], result: "i64" },
  sb_rc_decode_static: { parameters: ["buffer", "i64", "i64", "buffer", "i32", "buffer", "buffer"], result: "i32" },
  sb_rc_decode_static_x2: {
    parameters: ["buffer", "i64", "buffer", "i64", "i64", "buffer", "i32", "buffer", "buffer"],
    result: "i32",
  },
  sb_gemm_nn: { parameters: ["buffer", "buffer", "buffer", "buffer", "i64", "i64", "i64", "i32"], result: "void" },
  sb_attention: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i64", "i64", "i64", "i64", "i32"],
    result: "void",
  },
  sb_gemv_level: { parameters: ["i32"], result: "i32" },
  sb_gemv_f32: { parameters: ["buffer", "buffer", "buffer", "i64", "i64", "i32", "i32"], result: "void" },
  sb_gemv_int8: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64", "i32", "i32"],
    result: "void",
  },
  sb_gemv_ternary2: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64", "i32", "i32"],
    result: "void",
  },
  sb_gemv_base3: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i64",
      "i64",
      "i64",
      "i32",
      "i32",
    ],
    result: "void",
  },
  sb_sparse_strategy: { parameters: ["i32"], result: "i32" },
  sb_gemv_sparse: SPARSE_GEMV,
  sb_gemv_sparse_columns: SPARSE_GEMV,
  sb_gemv_coded_ternary: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "i64",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i64",
      "i64",
      "i64",
      "i32",
      "i32",
      "buffer",
    ],
    result: "i32",
  },
  sb_gemv_uintb: {
    parameters: ["buffer", "i32", "i64", "buffer", "buffer", "buffer", "i64", "i64", "i32", "i32"],
    result: "i32",
  },
  sb_quantize_acts: { parameters: ["buffer", "i32", "i64", "i64", "buffer", "buffer"], result: "void" },
  sb_tuning: { parameters: ["i32"], result: "i32" },
  sb_stream_sum: { parameters: ["buffer", "i64", "i32", "i32", "i32"], result: "f64" },
  sb_gelu: { parameters: ["buffer", "i64"], result: "void" },
  // ggml's kernels as a benchmark peer (kernels/c/ggml_peer.c, lib/kernels/ggml_peer.ts)
  sb_ggml_variant_score: { parameters: ["buffer"], result: "i32" },
  sb_ggml_open: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "i32" },
  sb_ggml_type_info: { parameters: ["i32", "buffer", "i64", "buffer"], result: "i32" },
  sb_ggml_quantize: { parameters: ["i32", "buffer", "buffer", "i64", "i64"], result: "i64" },
  sb_ggml_dequantize: { parameters: ["i32", "buffer", "buffer", "i64"], result: "i32" },
  sb_ggml_gemv: {
    parameters: ["i32", "buffer", "i64", "i64", "buffer", "i32", "buffer", "i32", "buffer", "buffer"],
    result: "i32",
  },
  sb_layernorm: { parameters: ["buffer", "buffer", "buffer", "buffer", "i64", "i64", "f32"], result: "void" },
} as const;

export type NativeLib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let cached: { lib: NativeLib | null; variant: string | null } | undefined;

function tryOpen(path: string): NativeLib | null {
  try {
    return Deno.dlopen(path, SYMBOLS).symbols;
  } catch {
    return null;
  }
}

/** The loaded native library, or null. Synchronous after the first `ensureNative()`. */
export function native(): NativeLib | null {
  if (cached) return cached.lib;
  if (Deno.env.get("SUBBIT_NO_NATIVE") === "1") return (cached = { lib: null, variant: null }).lib;
  for (const v of ["native", "portable"] as const) {
    const lib = tryOpen(libraryPath(v));
    if (lib) return (cached = { lib, variant: v }).lib;
  }
  return null;
}

/**
 * Load the library, building it first when it is missing or older than a kernel source (needs gcc; without it
 * a library already built is used as it is).
 */
export async function ensureNative(): Promise<NativeLib | null> {
  if (cached) return cached.lib;
  if (Deno.env.get("SUBBIT_NO_NATIVE") === "1") return native();
  try {
    await buildKernels();
  } catch {
    // no gcc or a failed build: whatever library exists (none: the TS paths)
  }
  return native();
}

/** Which build is loaded: "native", "portable" or null. */
export function nativeVariant(): string | null {
  native();
  return cached?.variant ?? null;
}
