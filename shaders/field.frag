#version 430
// Ray-marches one composed LOD of a FieldCast frame: docs/RENDERING.md, term by term.
// The host prepends #defines: C4 (RGBA texel groups per plane point), N_FEATURES, HW_FILTER.

uniform sampler3D u_density;      // R32F/R16F, n^3, texel (x, y, z)
uniform sampler2DArray u_planes;  // RGBA, m x m, layer = plane * C4 + group
uniform usampler3D u_skip;        // R8UI, (n-1)^3 cells: 0 occupied, r >= 1 empty cube radius r-1

uniform vec3 u_lo;
uniform vec3 u_hi;
uniform int u_n;                  // density lattice points per axis
uniform int u_m;                  // plane lattice points per axis
uniform float u_step;             // Δ_l
uniform float u_shift;            // density_shift

uniform mat3 u_rot;               // camera-to-world rotation (OpenGL camera axes)
uniform vec3 u_origin;
uniform vec4 u_intrinsics;        // fx, fy, cx, cy in camera pixels
uniform vec2 u_pixel_scale;       // camera pixels per target pixel (render scale)
uniform float u_target_height;    // target height in pixels (gl_FragCoord is bottom-up)

// Pass 1 of 2: writes the normalized accumulated features and the alpha of every ray that hit
// something, and depth 0 there; pass 2 (mlp.frag) runs the MLP only where the depth test passes.
layout(location = 0) out vec4 out_features[3 * C4];
layout(location = N_FEATURES) out vec4 out_alpha;  // N_FEATURES = 3 * C4, a literal

const float TRANSMITTANCE_STOP = 1e-4;
const float ALPHA_FLOOR = 1e-4;

float softplus(float x) { return x > 20.0 ? x : log(1.0 + exp(x)); }

float density_at(vec3 g, ivec3 i0) {
#if HW_FILTER
    return texture(u_density, (g + 0.5) / float(u_n)).r;
#else
    vec3 t = g - vec3(i0);
    float c000 = texelFetch(u_density, i0, 0).r;
    float c100 = texelFetch(u_density, i0 + ivec3(1, 0, 0), 0).r;
    float c010 = texelFetch(u_density, i0 + ivec3(0, 1, 0), 0).r;
    float c110 = texelFetch(u_density, i0 + ivec3(1, 1, 0), 0).r;
    float c001 = texelFetch(u_density, i0 + ivec3(0, 0, 1), 0).r;
    float c101 = texelFetch(u_density, i0 + ivec3(1, 0, 1), 0).r;
    float c011 = texelFetch(u_density, i0 + ivec3(0, 1, 1), 0).r;
    float c111 = texelFetch(u_density, i0 + ivec3(1, 1, 1), 0).r;
    float x00 = c000 * (1.0 - t.x) + c100 * t.x;
    float x10 = c010 * (1.0 - t.x) + c110 * t.x;
    float x01 = c001 * (1.0 - t.x) + c101 * t.x;
    float x11 = c011 * (1.0 - t.x) + c111 * t.x;
    float y0 = x00 * (1.0 - t.y) + x10 * t.y;
    float y1 = x01 * (1.0 - t.y) + x11 * t.y;
    return y0 * (1.0 - t.z) + y1 * t.z;
#endif
}

#if HW_FILTER
vec4 plane_at(vec2 g, ivec2 i0, int layer) {
    return texture(u_planes, vec3((g + 0.5) / float(u_m), float(layer)));
}
#else
vec4 plane_at(vec2 g, ivec2 i0, int layer) {
    vec2 t = g - vec2(i0);
    vec4 c00 = texelFetch(u_planes, ivec3(i0, layer), 0);
    vec4 c10 = texelFetch(u_planes, ivec3(i0 + ivec2(1, 0), layer), 0);
    vec4 c01 = texelFetch(u_planes, ivec3(i0 + ivec2(0, 1), layer), 0);
    vec4 c11 = texelFetch(u_planes, ivec3(i0 + ivec2(1, 1), layer), 0);
    vec4 r0 = c00 * (1.0 - t.x) + c10 * t.x;
    vec4 r1 = c01 * (1.0 - t.x) + c11 * t.x;
    return r0 * (1.0 - t.y) + r1 * t.y;
}
#endif

// Lattice interpolation index of RENDERING.md: i0 = clamp(floor(g), 0, N-2).
ivec3 cell_of(vec3 g, int n) { return clamp(ivec3(floor(g)), ivec3(0), ivec3(n - 2)); }
ivec2 cell_of(vec2 g, int m) { return clamp(ivec2(floor(g)), ivec2(0), ivec2(m - 2)); }

void main() {
    // Camera ray through the target pixel's centre, in camera pixel units.
    vec2 pix = vec2(gl_FragCoord.x, u_target_height - gl_FragCoord.y) * u_pixel_scale;
    vec3 dir_cam = vec3((pix.x - u_intrinsics.z) / u_intrinsics.x,
                        -(pix.y - u_intrinsics.w) / u_intrinsics.y, -1.0);
    vec3 d = normalize(u_rot * dir_cam);
    vec3 o = u_origin;

    // Slab entry/exit exactly as codec/render/torch_renderer.ray_box.
    vec3 safe = mix(d, vec3(1e-12), lessThan(abs(d), vec3(1e-12)));
    vec3 inv = 1.0 / safe;
    vec3 ta = (u_lo - o) * inv;
    vec3 tb = (u_hi - o) * inv;
    vec3 tmin = min(ta, tb);
    vec3 tmax = max(ta, tb);
    float t0 = max(max(max(tmin.x, tmin.y), tmin.z), 0.0);
    float t1 = min(min(tmax.x, tmax.y), tmax.z);

    vec3 extent = u_hi - u_lo;
    float cells = float(u_n - 1);
    float mcells = float(u_m - 1);
    // Lattice coordinate along the ray: g(t) = g_o + g_d * t (before clamping to the box).
    vec3 g_o = (o - u_lo) / extent * cells;
    vec3 g_d = d / extent * cells;
    vec3 g_d_safe = mix(g_d, vec3(1e-12), lessThan(abs(g_d), vec3(1e-12)));
    vec3 g_inv = 1.0 / g_d_safe;
    vec3 g_dir_pos = step(vec3(0.0), g_d_safe);  // 1 where the ray moves to +axis

    vec4 acc[3 * C4];
    for (int i = 0; i < 3 * C4; ++i) acc[i] = vec4(0.0);
    float alpha_sum = 0.0;
    float trans = 1.0;

    int k = 0;
    int k_end = t1 > t0 ? int(ceil((t1 - t0) / u_step)) : 0;
    while (true) {
        // Advance through empty space in a loop of its own: llvmpipe runs SIMD lanes in lock
        // step and masks branches, so keeping the cheap jumps apart from the expensive sample
        // below means a lane still jumping does not make every lane pay a full sample.
        vec3 u, g;
        ivec3 i0;
        bool found = false;
        while (k < k_end) {
            float t = t0 + (float(k) + 0.5) * u_step;
            if (!(t < t1)) {
                k = k_end;
                break;
            }
            u = clamp((o + d * t - u_lo) / extent, 0.0, 1.0);
            g = u * cells;
            i0 = cell_of(g, u_n);
            uint r = texelFetch(u_skip, i0, 0).r;
            if (r == 0u) {
                found = true;
                break;
            }
            // Every cell within Chebyshev radius r-1 is unoccupied: jump past that cube.
            // Samples landing exactly on its faces are re-checked one by one (margin below).
            vec3 box_lo = vec3(i0) - float(r - 1u);
            vec3 box_hi = vec3(i0) + float(r);
            vec3 exit_t = (mix(box_lo, box_hi, g_dir_pos) - g_o) * g_inv;
            float t_exit = min(min(exit_t.x, exit_t.y), exit_t.z);
            int k_next = int(ceil((t_exit - t0) / u_step - 0.5 - 1e-3));
            k = max(k + 1, k_next);
        }
        if (!found) break;

        float sigma_delta = softplus(density_at(g, i0) + u_shift) * u_step;
        float w = trans * (1.0 - exp(-sigma_delta));
        vec3 gm = u * mcells;
        ivec2 ixy = cell_of(gm.xy, u_m);
        ivec2 ixz = cell_of(gm.xz, u_m);
        ivec2 iyz = cell_of(gm.yz, u_m);
        for (int c = 0; c < C4; ++c) {
            acc[c] += w * plane_at(gm.xy, ixy, c);
            acc[C4 + c] += w * plane_at(gm.xz, ixz, C4 + c);
            acc[2 * C4 + c] += w * plane_at(gm.yz, iyz, 2 * C4 + c);
        }
        alpha_sum += w;
        trans *= exp(-sigma_delta);
        if (trans < TRANSMITTANCE_STOP) break;
        k += 1;
    }

    // Nothing hit: depth stays 1 so pass 2 skips the pixel, which keeps (background, A = 0).
    if (alpha_sum <= 0.0) discard;
    float norm = 1.0 / max(alpha_sum, ALPHA_FLOOR);
    for (int i = 0; i < 3 * C4; ++i) out_features[i] = acc[i] * norm;
    out_alpha = vec4(alpha_sum, 0.0, 0.0, 0.0);
    gl_FragDepth = 0.0;
}
