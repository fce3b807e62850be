/** Config checks shared by the quantizers. */
import { InputError } from "../errors.ts";
import { validateGroupSize } from "./groups.ts";
import { validateScaleDtype } from "./meta.ts";
import type { QuantConfig } from "./types.ts";

/** Group size and scale dtype, which every method takes. */
export function validateGrouping(c: QuantConfig): void {
  validateGroupSize(c.groupSize);
  validateScaleDtype(c.scaleDtype);
}

/** A bit width 1..8 plus the grouping checks. */
export function validateBitsAndGrouping(method: string, c: QuantConfig): void {
  if (!Number.isInteger(c.bits) || c.bits! < 1 || c.bits! > 8) {
    throw new InputError(`${method}: bits must be an integer 1..8, got ${c.bits}`);
  }
  validateGrouping(c);
}
