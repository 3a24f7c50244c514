"""Real-time GLSL renderer of FieldCast frames (moderngl); see docs/GL_RENDERER.md.

`renderer.FieldRenderer` draws into any moderngl context (the player's QOpenGLWidget);
`headless.HeadlessRenderer` / `headless.render_image` own an EGL context (CLI, export, tests).
"""
