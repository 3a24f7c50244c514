#version 430
// Pass 2 of 2: the GoF's colour MLP once per ray, then compositing over the background.
// Runs only where pass 1 wrote depth 0 (early depth test): llvmpipe masks `if`s but skips
// whole pixel blocks that fail the depth test, so rays that hit nothing cost no MLP.
// The host prepends #define C4 and fills the three @...@ markers (app/gl/program.py).
layout(early_fragment_tests) in;

uniform sampler2D u_features[3 * C4];
uniform sampler2D u_alpha;
uniform mat3 u_rot;
uniform vec4 u_intrinsics;
uniform vec2 u_pixel_scale;
uniform float u_target_height;
uniform vec3 u_background;

// MLP weights W[] as vec4 rows: baked constants or a storage buffer.
@MLP_WEIGHTS@

out vec4 frag_color;

void main() {
    ivec2 pix_i = ivec2(gl_FragCoord.xy);
    // The same ray direction as pass 1 (view encoding input).
    vec2 pix = vec2(gl_FragCoord.x, u_target_height - gl_FragCoord.y) * u_pixel_scale;
    vec3 dir_cam = vec3((pix.x - u_intrinsics.z) / u_intrinsics.x,
                        -(pix.y - u_intrinsics.w) / u_intrinsics.y, -1.0);
    vec3 d = normalize(u_rot * dir_cam);
    float alpha_sum = texelFetch(u_alpha, pix_i, 0).r;
    @MLP_INPUTS@
    @MLP_BODY@
    vec3 rgb = alpha_sum * color + (1.0 - alpha_sum) * u_background;
    frag_color = vec4(rgb, alpha_sum);
}
