"""Test-view PSNR of a clip's coarsest and finest tracks at full LOD, with the MLP as the file
stores it and rounded to IEEE half precision (docs/FORMAT.md, section 9: why the MLP is stored
as float16).

    PYTHONPATH=. python bench/mlp_precision.py CLIP [DATASET]

DATASET defaults to ../shared/bench/figure128. Prints track, PSNR as stored, PSNR rounded, the
difference (dB).
"""

from __future__ import annotations

import dataclasses
import sys

import torch

from codec.data.dataset import load_dataset
from codec.decode.decoder import Decoder
from codec.eval.measure import ViewSet, measure_point
from codec.field.mlp import stored_mlp


def main(clip: str, dataset: str = "../shared/bench/figure128") -> None:
    torch.set_num_threads(1)
    dec = Decoder(open(clip, "rb").read(), torch.device("cpu"))
    h = dec.header
    ds = load_dataset(dataset)
    views = ViewSet.from_dataset(ds, list(ds.test_views), list(range(h.frames)), "test",
                                 torch.device("cpu"))

    def halved(grids):  # noqa: ANN001, ANN202
        return dataclasses.replace(grids, mlp=stored_mlp(grids.mlp))

    for r in sorted({0, h.tracks - 1}):
        stored = measure_point(lambda t, r=r: dec.frame(t, r, h.levels), views).psnr
        rounded = measure_point(lambda t, r=r: halved(dec.frame(t, r, h.levels)), views).psnr
        print(f"track {r + 1}: {stored:.5f} dB stored, {rounded:.5f} dB half, "
              f"{rounded - stored:+.5f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
