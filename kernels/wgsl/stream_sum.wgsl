// Read-bandwidth probe: each invocation sums a contiguous run of u32 words (as vec4 loads);
// the partial is written so the reads cannot be optimised away.
@group(0) @binding(0) var<storage, read> a: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> partial: array<u32>;
@group(0) @binding(2) var<uniform> n_vec4: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * 64u;
  let invocations = nwg.x * nwg.y * 64u;
  var s = vec4<u32>(0u);
  for (var i = id; i < n_vec4; i += invocations) { s += a[i]; }
  partial[id] = s.x + s.y + s.z + s.w;
}
