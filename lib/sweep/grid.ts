/**
 * Grids: methods × bits × levels × sparsity × group sizes × scale dtypes, each
 * method taking only the axes that apply to it. A grid is named (GRIDS) or a
 * JSON file with the same keys as the CLI flags.
 */
import { InputError } from "../errors.ts";
import { getQuantizer } from "../quant/mod.ts";
import { parseTransforms, validateTransforms } from "../quant/transforms.ts";
import type { GroupSize, QuantConfig, ScaleDtype } from "../quant/types.ts";

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

/** A stable string naming a config, identical across runs, e.g. "rtn_asym.b4.g64.f16". */
export function configId(c: QuantConfig): string {
  const parts: string[] = [c.method];
  if (c.bits !== undefined) parts.push(`b${c.bits}`);
  if (c.levels !== undefined) parts.push(`l${c.levels}`);
  if (c.sparsity !== undefined) parts.push(`s${c.sparsity}`);
  parts.push(`g${c.groupSize}`, c.scaleDtype);
  return parts.join(".") + (c.transforms ?? []).map((t) => `+${t}`).join("");
}

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

/** Parse a group-size token: a positive integer, "row" or "tensor". */
export function parseGroupSize(s: string): GroupSize {
  const t = s.trim();
  if (t === "row" || t === "tensor") return t;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1) {
    throw new InputError(`bad group size '${s}' (a positive integer, 'row' or 'tensor')`);
  }
  return n;
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

const CONFIG_ID_RE = /^([a-z0-9_]+)(?:\.b(\d+))?(?:\.l(\d+))?(?:\.s([0-9.]+?))?\.g(\d+|row|tensor)\.([a-z0-9_]+)$/;

/** Parse a config_id back into a validated config (inverse of configId). */
export function parseConfigId(id: string): QuantConfig {
  const [baseId, ...transformParts] = id.split("+");
  const m = baseId.match(CONFIG_ID_RE);
  if (!m) {
    throw new InputError(`bad config id '${id}' (expected e.g. rtn_asym.b4.g64.f16 or sparse_klevel.l3.s0.9.g64.f16)`);
  }
  const q = getQuantizer(m[1]);
  const c: QuantConfig = { method: q.id, groupSize: parseGroupSize(m[5]), scaleDtype: m[6] as ScaleDtype };
  if (m[2] !== undefined) c.bits = Number(m[2]);
  if (m[3] !== undefined) c.levels = Number(m[3]);
  if (m[4] !== undefined) c.sparsity = Number(m[4]);
  q.validate(c);
  if (transformParts.length) {
    c.transforms = parseTransforms(transformParts);
    validateTransforms(c);
  }
  if (configId(c) !== id) throw new InputError(`config id '${id}' is not canonical (did you mean ${configId(c)}?)`);
  return c;
}
