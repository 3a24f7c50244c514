"""GL contexts: a headless EGL one for tests, CLI and export.

Inside Qt the player makes its own with `moderngl.create_context()` in initializeGL.
"""

from __future__ import annotations

import moderngl


def create_headless_context() -> moderngl.Context:
    """A standalone EGL context (Mesa llvmpipe when there is no GPU), GL 4.3 or newer."""
    return moderngl.create_standalone_context(backend="egl", require=430)
