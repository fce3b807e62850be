/**
 * Error for bad input (files, tensors, flags, grids): the CLI prints its
 * one-line message and exits 2. Anything else is an internal failure (exit 1).
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** Throw an InputError unless `cond` holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InputError(typeof message === "string" ? message : message());
}
