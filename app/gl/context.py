"""GL contexts for the field renderer.

Headless (tests, CLI, export): a standalone EGL context (Mesa llvmpipe when there is no GPU).
In the player: the QOpenGLWidget's own context (`moderngl.create_context()` in initializeGL).

EGL and GLX on one thread: libglvnd lets a thread have one current context API at a time. An
EGL context left current makes Qt's later glXMakeCurrent fail ("QOpenGLWidget: Failed to make
context current", black widget; some stacks abort). `ctx.release()` does not unbind it. So a
headless context is made current only inside ``with ctx:`` blocks (glcontext saves and restores
the previous EGL binding), and `create_headless_context` returns it already unbound. The other
order (GLX current, then an EGL context used and unbound) works; both are tested in tests/gl.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import moderngl


def create_headless_context() -> moderngl.Context:
    """A standalone EGL context (GL >= 4.3), not current: use it inside ``with ctx:``."""
    ctx = moderngl.create_standalone_context(backend="egl", require=430)
    ctx.__exit__(None, None, None)  # creation made it current; unbind (see module doc)
    return ctx


def egl_context_current() -> bool:
    """True if this thread has an EGL context current (what would break Qt's GLX)."""
    name = ctypes.util.find_library("EGL") or "libEGL.so.1"
    lib = ctypes.CDLL(name)
    lib.eglGetCurrentContext.restype = ctypes.c_void_p
    return bool(lib.eglGetCurrentContext())
