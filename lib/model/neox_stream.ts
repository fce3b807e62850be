/**
 * Stage weights read from disk on demand, so a pass over a model can hold one
 * block at a time: the streaming side of NeoxStages (NeoxForward is the
 * in-memory side).
 */
import type { ModelSource } from "../tensor/model.ts";
import { transpose } from "./ops.ts";
import type { StageWeights } from "./neox.ts";

/**
 * Some tensors of a model, by HF name. Linear layers are kept only transposed
 * to [in, out] (what the GEMM reads), so a stage costs its bytes once.
 */
export class StageTensors implements StageWeights {
  private constructor(
    private readonly plain: Map<string, Float32Array>,
    private readonly transposed: Map<string, Float32Array>,
    private readonly shapes: Map<string, [number, number]>,
  ) {}

  /** From tensors as stored; those named in `shapes` are transposed (and the originals dropped). */
  static from(data: Map<string, Float32Array>, shapes: Map<string, [number, number]>): StageTensors {
    const s = new StageTensors(new Map(), new Map(), shapes);
    for (const [n, d] of data) s.add(n, d);
    return s;
  }

  /** Add one tensor as stored (a linear layer is transposed, and the original not kept). */
  add(name: string, data: Float32Array): void {
    const shape = this.shapes.get(name);
    if (shape) this.transposed.set(name, transpose(data, shape[0], shape[1]));
    else this.plain.set(name, data);
  }

  w(name: string): Float32Array {
    const d = this.plain.get(name);
    if (!d) throw new Error(`stage weights lack ${name} (linear layers are kept transposed)`); // a caller bug
    return d;
  }

  t(name: string): Float32Array {
    const t = this.transposed.get(name);
    if (!t) throw new Error(`stage weights lack the linear layer ${name}`);
    return t;
  }

  /** The same tensors with `name` replaced by `data` (e.g. its quantized Ŵ); shares the others. */
  with(name: string, data: Float32Array): StageTensors {
    const copy = new StageTensors(new Map(this.plain), new Map(this.transposed), this.shapes);
    copy.add(name, data);
    return copy;
  }
}

/** Read `names` from a model source as f32. */
export async function readStage(
  src: ModelSource,
  names: string[],
  shapes: Map<string, [number, number]>,
): Promise<StageTensors> {
  const s = StageTensors.from(new Map(), shapes);
  for (const n of names) s.add(n, (await src.read(n)).data); // one original alive at a time
  return s;
}
