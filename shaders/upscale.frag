#version 430
// Present pass: copies the field render to the target; stretches it when the render scale is
// below 1 (quality governor) and can force alpha to 1 for on-screen display.
uniform sampler2D u_image;  // linear filtering
uniform vec2 u_target_size;
uniform float u_opaque;
out vec4 frag_color;
void main() {
    ivec2 size = textureSize(u_image, 0);
    vec4 c = size == ivec2(u_target_size)
        ? texelFetch(u_image, ivec2(gl_FragCoord.xy), 0)
        : texture(u_image, gl_FragCoord.xy / u_target_size);
    frag_color = vec4(c.rgb, mix(c.a, 1.0, u_opaque));
}
