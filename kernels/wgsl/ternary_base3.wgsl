// Ternary, base-3: 320-column blocks of 64 bytes; byte j of a block holds the codes c_i = w+1 of
// columns j + 64·i (i = 0…4) in the base-3 code of lib/kernels/base3_code.ts; BASE3_DECODE (prepended by
// webgpu.ts from that module) holds each byte's five codes, 2 bits each. Rows are `row_units` bytes apart
// (a multiple of 64).
// y[b,r] = scale[r] · sx[b] · Σ w·xq.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg);
  var acc: array<i32, 16>;
  if (r < P.rows) {
    for (var j = lid; j < P.row_units; j += WG) {
      let at = r * P.row_units + j;
      let codes = BASE3_DECODE[(w[at >> 2u] >> (8u * (at & 3u))) & 0xFFu];
      let col0 = (j / 64u) * 320u + (j % 64u);
      for (var i = 0u; i < 5u; i++) {
        let t = i32((codes >> (2u * i)) & 3u) - 1;
        if (t != 0) {
          for (var b = 0u; b < P.batch; b++) { acc[b] += t * x_byte(b, col0 + 64u * i); }
        }
      }
    }
  }
  for (var b = 0u; b < P.batch; b++) { red[b * WG + lid] = f32(acc[b]); }
  reduce(lid);
  if (lid == 0u && r < P.rows) {
    for (var b = 0u; b < P.batch; b++) { y[b * P.total_rows + P.row0 + r] = scale[r] * sx[b] * red[b * WG]; }
  }
}
