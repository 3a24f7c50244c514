"""Pre-compiling a GoF's MLP program in a helper process fills Mesa's shader cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.gl.synthetic import synthetic_frame
from app.gl.warm import warm_mlp_program
from codec.field.config import FieldConfig


@pytest.mark.gl
@pytest.mark.slow  # a cold compile in a fresh cache: seconds, more on a busy machine
def test_warm_process_compiles_into_the_shader_cache(tmp_path: Path) -> None:
    cfg = FieldConfig.nested(2, 4, 4, channels=8, hidden=(16,))
    grids = synthetic_frame(cfg, 0, seed=11)
    cache = tmp_path / "mesa-cache"
    env = {"MESA_SHADER_CACHE_DIR": str(cache), "MESA_SHADER_CACHE_DISABLE": "false"}
    proc = warm_mlp_program(grids.mlp, cfg.channels, cfg.render, wait=True, env=env)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    assert any(p.is_file() for p in cache.rglob("*")), "nothing was written to the shader cache"
