/**
 * Grids: methods × bits × levels × sparsity × group sizes × scale dtypes, each
 * method taking only the axes that apply to it. A grid is named (GRIDS) or a
 * JSON file with the same keys as the CLI flags.
 */
import { InputError } from "../errors.ts";
import { getQuantizer } from "../quant/mod.ts";
import { parseTransforms, validateTransforms } from "../quant/transforms.ts";
import type { GroupSize, QuantConfig, ScaleDtype } from "../quant/types.ts";
import { configId, parseGroupSize } from "../quant/config_id.ts";

export interface GridSpec {
  methods: string[];
  bits?: number[];
  levels?: number[];
  sparsity?: number[];
  group_sizes: GroupSize[];
  scale_dtypes?: ScaleDtype[];
  /** Transform chains to try on every config: "none" (plain) or e.g. "gptq"; default ["none"]. */
  transforms?: string[];
  /** Optional layer globs (comma list), overridden by --layers. */
  layers?: string;
}

export const GRIDS: Record<string, GridSpec> = {
  /** Seconds: for tests and a first look. */
  quick: { methods: ["rtn_asym", "ternary_absmean"], bits: [2, 4], group_sizes: [64], scale_dtypes: ["f16"] },
  /** The README's run: every method side by side on every 2-D weight (minutes on 2 cores). */
  default: {
    methods: ["rtn_sym", "rtn_asym", "hqq", "sign", "ternary_absmean", "sparse_klevel"],
    bits: [2, 3, 4, 8],
    levels: [3, 5],
    sparsity: [0.5, 0.8, 0.9],
    group_sizes: [32, 64, 128],
    scale_dtypes: ["f16"],
  },
};

/** Expand a grid into validated configs, de-duplicated by config_id, in a stable order. */
export function expandGrid(spec: GridSpec): QuantConfig[] {
  if (!spec.methods?.length) throw new InputError("grid: no methods");
  if (!spec.group_sizes?.length) throw new InputError("grid: no group sizes");
  const dtypes = spec.scale_dtypes?.length ? spec.scale_dtypes : (["f16"] as ScaleDtype[]);
  const chains = (spec.transforms?.length ? spec.transforms : ["none"]).map((t) =>
    t.trim() === "none" ? [] : parseTransforms(t.trim().split("+"))
  );
  const out = new Map<string, QuantConfig>();
  for (const m of spec.methods) {
    const q = getQuantizer(m);
    const axis = <T>(name: "bits" | "levels" | "sparsity", values: T[] | undefined): (T | undefined)[] => {
      if (!q.axes.includes(name)) return [undefined];
      if (!values?.length) throw new InputError(`grid: method ${m} needs --${name}`);
      return values;
    };
    for (const bits of axis("bits", spec.bits)) {
      for (const levels of axis("levels", spec.levels)) {
        for (const sparsity of axis("sparsity", spec.sparsity)) {
          for (const groupSize of spec.group_sizes) {
            for (const scaleDtype of dtypes) {
              const c: QuantConfig = { method: q.id, groupSize, scaleDtype };
              if (bits !== undefined) c.bits = bits;
              if (levels !== undefined) c.levels = levels;
              if (sparsity !== undefined) c.sparsity = sparsity;
              q.validate(c);
              for (const chain of chains) {
                const t = chain.length ? { ...c, transforms: chain } : c;
                validateTransforms(t);
                out.set(configId(t), t);
              }
            }
          }
        }
      }
    }
  }
  return [...out.values()];
}

/** Load a named grid or a JSON grid file. */
export async function loadGrid(nameOrPath: string): Promise<GridSpec> {
  if (GRIDS[nameOrPath]) return structuredClone(GRIDS[nameOrPath]);
  let text: string;
  try {
    text = await Deno.readTextFile(nameOrPath);
  } catch {
    throw new InputError(
      `--grid '${nameOrPath}': not a named grid (${Object.keys(GRIDS).join(", ")}) nor a readable JSON file`,
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`--grid ${nameOrPath}: invalid JSON: ${(e as Error).message}`);
  }
  const known = new Set([
    "methods",
    "bits",
    "levels",
    "sparsity",
    "group_sizes",
    "scale_dtypes",
    "transforms",
    "layers",
  ]);
  for (const k of Object.keys(json)) {
    if (!known.has(k)) {
      throw new InputError(`--grid ${nameOrPath}: unknown key '${k}' (known: ${[...known].join(", ")})`);
    }
  }
  const numList = (k: string): number[] | undefined => {
    const v = json[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) {
      throw new InputError(`--grid ${nameOrPath}: '${k}' must be a list of numbers`);
    }
    return v;
  };
  const strList = (k: string): string[] | undefined => {
    const v = json[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw new InputError(`--grid ${nameOrPath}: '${k}' must be a list of strings`);
    }
    return v;
  };
  const gs = json.group_sizes;
  if (!Array.isArray(gs)) throw new InputError(`--grid ${nameOrPath}: 'group_sizes' must be a list`);
  return {
    methods: strList("methods") ?? [],
    bits: numList("bits"),
    levels: numList("levels"),
    sparsity: numList("sparsity"),
    group_sizes: gs.map((g) => parseGroupSize(String(g))),
    scale_dtypes: strList("scale_dtypes") as ScaleDtype[] | undefined,
    transforms: strList("transforms"),
    layers: typeof json.layers === "string" ? json.layers : undefined,
  };
}
