// int8 weights, one f32 scale per 64 columns: y[b,r] = sx[b] · Σ_g scale[r,g] · Σ_{k∈g} q[r,k]·xq[b,k].
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg);
  var acc: array<f32, 16>;
  if (r < P.rows) {
    for (var i = lid; i < P.row_units; i += WG) {
      let q4 = w[r * P.row_units + i];
      let s = scale[r * P.groups + i / 16u];
      for (var b = 0u; b < P.batch; b++) {
        acc[b] += s * f32(dot4I8Packed(q4, x[b * P.cpw + i]));
      }
    }
  }
  for (var b = 0u; b < P.batch; b++) { red[b * WG + lid] = acc[b]; }
  reduce(lid);
  if (lid == 0u && r < P.rows) {
    for (var b = 0u; b < P.batch; b++) { y[b * P.total_rows + P.row0 + r] = sx[b] * red[b * WG]; }
  }
}
