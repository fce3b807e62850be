/**
 * What a transformed config stores besides the base method's codes: the
 * `awq` per-channel scales, the `had` rotation (the codes are of
 * (W·diag(s))·Qᵀ) and the `lr<r>` factors. One
 * function maps the base reconstruction Ŵ' to the layer's Ŵ, used both when
 * quantizing and when a .subbit record is read back, so the two agree bit for bit.
 */
import { type ChannelScales, decodeChannelScales, unscaleColumns } from "./awq.ts";
import { type Rotation, unrotateWeight } from "./hadamard.ts";
import { addLowRank, type LowRank } from "./low_rank.ts";

export interface PostTransforms {
  channelScales?: ChannelScales;
  rotation?: Rotation;
  lowRank?: LowRank;
}

/** Ŵ = Ŵ'·Q (when rotated), ·diag(1/s) (when scaled per channel), then + L·R (when corrected). */
export function applyPost(
  base: Float32Array,
  rows: number,
  cols: number,
  post: PostTransforms,
  what: string,
): Float32Array {
  const out = post.rotation ? unrotateWeight(base, rows, cols, post.rotation) : base;
  if (post.channelScales) unscaleColumns(out, rows, cols, decodeChannelScales(post.channelScales, cols));
  if (post.lowRank) addLowRank(out, post.lowRank, rows, cols, what);
  return out;
}
