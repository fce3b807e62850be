/** The quantizer registry the sweep reads: adding a method is a file and a line here. */
import { InputError } from "../errors.ts";
import { hqq } from "./hqq.ts";
import { rtnAsym } from "./rtn_asym.ts";
import { rtnSym } from "./rtn_sym.ts";
import { sign } from "./sign.ts";
import { sparseKlevel } from "./sparse_klevel.ts";
import { ternaryAbsmean } from "./ternary_absmean.ts";
import type { Quantizer } from "./types.ts";

export const QUANTIZERS: ReadonlyMap<string, Quantizer> = new Map<string, Quantizer>([
  [rtnSym.id, rtnSym],
  [rtnAsym.id, rtnAsym],
  [sign.id, sign],
  [ternaryAbsmean.id, ternaryAbsmean],
  [sparseKlevel.id, sparseKlevel],
  [hqq.id, hqq],
]);

/** The quantizer for a method id, or an InputError listing the known ones. */
export function getQuantizer(id: string): Quantizer {
  const q = QUANTIZERS.get(id);
  if (!q) throw new InputError(`unknown method '${id}' (known: ${[...QUANTIZERS.keys()].join(", ")})`);
  return q;
}

export type { MethodId, QuantConfig, Quantized, Quantizer, ScaleDtype, WeightMatrix } from "./types.ts";
