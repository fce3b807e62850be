// Ternary, 2-bit codes c = w+1 in 256-column blocks of 16 words: byte j of a block holds
// columns j, j+64, j+128, j+192 (bits 0-1, 2-3, 4-5, 6-7), as the C kernel's layout.
// Σ w·x = Σ c·x − Σ x, so y[b,r] = scale[r] · sx[b] · (Σ c·xq − xsum[b]).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg);
  var acc: array<i32, 16>;
  if (r < P.rows) {
    for (var i = lid; i < P.row_units; i += WG) {
      let word = w[r * P.row_units + i];
      let xw = (i >> 4u) * 64u + (i & 15u); // activation word of the block's first 64 columns
      for (var s = 0u; s < 4u; s++) {
        let codes = (word >> (2u * s)) & 0x03030303u;
        for (var b = 0u; b < P.batch; b++) {
          acc[b] += dot4I8Packed(codes, x[b * P.cpw + xw + 16u * s]);
        }
      }
    }
  }
  // per-invocation partials are integers < 2^24, exact in f32
  for (var b = 0u; b < P.batch; b++) { red[b * WG + lid] = f32(acc[b]); }
  reduce(lid);
  if (lid == 0u && r < P.rows) {
    for (var b = 0u; b < P.batch; b++) {
      y[b * P.total_rows + P.row0 + r] = scale[r] * sx[b] * (red[b * WG] - f32(xsum[b]));
    }
  }
}
