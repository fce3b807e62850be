// Shared prelude of the GEMV shaders (prepended to each kernel file by lib/kernels/webgpu.ts).
// One workgroup per weight row; 64 invocations stride over the row, then a tree reduction.
// Activations are int8 per token (absmax/127, as the C kernels), packed 4 per u32, padded
// with zeros to `cp` columns. A layer larger than the adapter's storage-binding limit is
// split by rows into chunks; each chunk is one dispatch with its own weight/scale buffers.
const WG: u32 = 64u;
const MAX_B: u32 = 16u;

struct Params {
  row0: u32,        // first row of this chunk in the layer
  rows: u32,        // rows in this chunk
  total_rows: u32,  // rows of the layer (stride of y between tokens)
  batch: u32,
  cpw: u32,         // activation words per token (cp / 4)
  row_units: u32,   // per-row stride of the weight data (words, or bytes for base-3)
  groups: u32,      // scale groups per row (int8), else 1
  pad: u32,
}

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read> sx: array<f32>;
@group(0) @binding(4) var<storage, read> xsum: array<i32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> P: Params;

var<workgroup> red: array<f32, 1024>; // WG × MAX_B partial sums

fn row_of(wg: vec3<u32>) -> u32 {
  return wg.x + wg.y * 65535u;
}

// Sum red[b·WG + 0..WG) for every token b, then invocation 0 holds the totals.
fn reduce(lid: u32) {
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lid < s) {
      for (var b = 0u; b < P.batch; b++) {
        red[b * WG + lid] += red[b * WG + lid + s];
      }
    }
  }
  workgroupBarrier();
}

// Signed byte k of token b's activations.
fn x_byte(b: u32, k: u32) -> i32 {
  return extractBits(bitcast<i32>(x[b * P.cpw + (k >> 2u)]), 8u * (k & 3u), 8u);
}
