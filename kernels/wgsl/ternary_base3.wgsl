// Ternary, base-3: byte j of a row is Σ_{i<5} (w_{5j+i}+1)·3^i (1.6 bit/weight); rows are
// `row_units` bytes apart, not word-aligned. y[b,r] = scale[r] · sx[b] · Σ w·xq.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg);
  var acc: array<i32, 16>;
  if (r < P.rows) {
    for (var j = lid; j < P.row_units; j += WG) {
      let at = r * P.row_units + j;
      var v = (w[at >> 2u] >> (8u * (at & 3u))) & 0xFFu;
      for (var i = 0u; i < 5u; i++) {
        let t = i32(v % 3u) - 1;
        v = v / 3u;
        if (t != 0) {
          for (var b = 0u; b < P.batch; b++) { acc[b] += t * x_byte(b, 5u * j + i); }
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
