#version 430
// Stretches the low-resolution field render over the target (render scale < 1, quality governor).
uniform sampler2D u_image;
uniform vec2 u_target_size;
uniform float u_opaque;  // 1: write alpha 1 (on-screen display), 0: keep the field's alpha
out vec4 frag_color;
void main() {
    vec4 c = texture(u_image, gl_FragCoord.xy / u_target_size);
    frag_color = vec4(c.rgb, mix(c.a, 1.0, u_opaque));
}
