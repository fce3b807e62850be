/**
 * Config ids: the stable names of quantization configs, shared by every part
 * that stores or reads them (sweep rows, plans, containers, GGUF exports),
 * e.g. `rtn_asym.b4.g64.f16`, `sparse_klevel.l3.s0.9.g64.f16+had+gptq`.
 */
import { InputError } from "../errors.ts";
import { getQuantizer } from "./mod.ts";
import { parseTransforms, validateTransforms } from "./transforms.ts";
import type { GroupSize, QuantConfig, ScaleDtype } from "./types.ts";

/** A stable string naming a config, identical across runs, e.g. "rtn_asym.b4.g64.f16". */
export function configId(c: QuantConfig): string {
  const parts: string[] = [c.method];
  if (c.bits !== undefined) parts.push(`b${c.bits}`);
  if (c.levels !== undefined) parts.push(`l${c.levels}`);
  if (c.sparsity !== undefined) parts.push(`s${c.sparsity}`);
  parts.push(`g${c.groupSize}`, c.scaleDtype);
  return parts.join(".") + (c.transforms ?? []).map((t) => `+${t}`).join("");
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
