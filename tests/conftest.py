"""Shared test set-up: threads pinned to 2, tiny fixtures built once per run."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")
os.environ.setdefault("LP_NUM_THREADS", "2")

import torch  # noqa: E402

torch.set_num_threads(2)
