"""The evaluation framework end to end on a tiny clip, with a stand-in for training.

Training (codec/train) is replaced by `SyntheticTraining`: smooth float chains from
codec.encode.synthetic with steps per track. Everything after training is the real thing: the
closed-loop quantizer and range coder (encode_clip), the .fcv container, the Decoder, the torch
renderer, the bundled ffmpeg/libx265, the metrics, the BD summary, the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codec.data.cameras import orbit_camera
from codec.data.dataset import write_dataset
from codec.encode.quantized import GofChains, encode_clip
from codec.encode.synthetic import synthetic_chains, synthetic_header, synthetic_steps
from codec.eval.evaluate import EncodeOutcome, EncodeRequest, EvalConfig, Evaluation
from codec.eval.measure import render_view
from codec.field.config import FieldConfig
from codec.field.grids import FrameGrids

FIELD = FieldConfig(density_res=(5, 9, 17), plane_res=(9, 17, 33), channels=4, hidden=(16,))
FRAMES, GOF, RES = 2, 2, 24
DENSITY_GAIN = 6.0  # makes the synthetic fog an object the cameras actually see


def _chains(tracks: int, coarse: float = 1.0) -> list[GofChains]:
    h = synthetic_header(FIELD, FRAMES, GOF, tracks)
    gofs = synthetic_chains(h, seed=3)
    for g in gofs:
        g.density = [[DENSITY_GAIN * d for d in f] for f in g.density]
        g.steps = synthetic_steps(h, base=0.08 * coarse, ratio=2.5)
    return gofs


class SyntheticTraining:
    """Stand-in for the training encoder: same chains for every variant, coarser steps for the
    ablations (so they are measurably worse), real coding and a real .fcv."""

    def __init__(self) -> None:
        self.requests: list[EncodeRequest] = []

    def encode(self, req: EncodeRequest) -> EncodeOutcome:
        self.requests.append(req)
        tracks = 1 if req.only_track is not None else req.tracks
        coarse = 1.0 if req.residuals and req.progressive and not req.no_joint_rate else 1.6
        gofs = _chains(req.tracks, coarse)
        if req.only_track is not None:
            for g in gofs:
                g.steps = g.steps[req.only_track : req.only_track + 1] * 0.95
        clip = encode_clip(synthetic_header(FIELD, FRAMES, GOF, tracks), gofs)
        clip.write(req.clip)
        return EncodeOutcome(
            req.clip, {"key_steps": 0, "p_steps": 0}, [req.seed], 0.01,
            chains=gofs if req.keep_chains else None,
        )  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Ground truth rendered from the float chains themselves, 2 test + 3 train cameras."""
    root = tmp_path_factory.mktemp("evalds") / "ds"
    cams = [orbit_camera(72 * v, 20, 3.0, width=RES, height=RES, name=f"c{v}") for v in range(5)]
    gofs = _chains(1)
    bg = torch.ones(3)
    frames = []
    for t in range(FRAMES):
        g = gofs[t // GOF]
        grids = FrameGrids(
            list(g.density[t % GOF]), list(g.planes[t % GOF]), g.mlp,
            torch.tensor([[-1.0] * 3, [1.0] * 3]), FIELD.render,
        )  # fmt: skip
        imgs = [render_view(grids, cam.rays(), (RES, RES), bg).numpy() for cam in cams]
        rgba = np.concatenate([np.stack(imgs), np.ones((5, RES, RES, 1), np.float32)], -1)
        frames.append((rgba * 255 + 0.5).astype(np.uint8))
    write_dataset(root, cams, frames, test_views=(1, 3), aabb=np.array([[-1.0] * 3, [1.0] * 3]))
    return root


CFG = EvalConfig(
    preset="test", tracks=4, gof=GOF, crfs=(-1, 0, 8, 16, 28), x265_preset="ultrafast",
    train_views=1, lod_points=False, downscale=1,
)  # fmt: skip


@pytest.mark.slow
def test_evaluation_end_to_end_and_resume(dataset: Path, tmp_path: Path) -> None:
    backend = SyntheticTraining()
    out = tmp_path / "eval"
    results = Evaluation(dataset, out, CFG, backend, progress=False).run()

    for key in ("bd_rate_vs_post_training", "bd_rate_vs_fixed_rate", "ablations"):
        assert key in results
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["variants"].keys() == results["variants"].keys()
    v = results["variants"]
    assert len(v["full"]["points"]) == 4 and len(v["fixed_rate"]["points"]) == 4
    assert len(v["post_training_h265"]["points"]) == 5
    for name in v:
        assert v[name]["seeds"] == [0] and v[name]["steps"]
        for p in v[name]["points"]:
            assert p["bytes_per_frame"] > 0 and np.isfinite(p["psnr_test"])
            assert p["psnr_train"] is not None and 0 < p["ssim_test"] <= 1
    # Quality rises with the track in the full method (finer steps, more bytes).
    full = sorted(v["full"]["points"], key=lambda p: p["track"])
    assert [p["bytes_per_frame"] for p in full] == sorted(p["bytes_per_frame"] for p in full)
    assert full[-1]["psnr_test"] > full[0]["psnr_test"]
    # The ablations got coarser steps: fewer bytes, lower PSNR at each track.
    for name in ("no_residual", "no_progressive", "no_joint_rate"):
        assert name in results["ablations"]
    table = (out / "results.md").read_text()
    assert "| FieldCast vs post-training H.265 |" in table and "| full | r4/l3 |" in table
    assert {r.only_track for r in backend.requests} == {None, 0, 1, 2, 3}
    assert sum(r.keep_chains for r in backend.requests) == 1  # one no-joint-rate training

    # Run again: nothing is encoded or scored again, and the numbers are identical.
    again_backend = SyntheticTraining()
    again = Evaluation(dataset, out, CFG, again_backend, progress=False).run()
    assert again_backend.requests == []
    assert again["variants"] == results["variants"]


def test_other_settings_in_the_same_directory_are_refused(dataset: Path, tmp_path: Path) -> None:
    from codec.errors import FieldCastError

    out = tmp_path / "eval"
    Evaluation(dataset, out, CFG, SyntheticTraining(), progress=False)
    with pytest.raises(FieldCastError, match="other settings.*tracks"):
        Evaluation(dataset, out, EvalConfig(tracks=3), SyntheticTraining(), progress=False)
    with pytest.raises(FieldCastError, match="unknown variants"):
        EvalConfig(variants=("full", "bogus")).validate()


def test_clip_points_full_lod_plus_the_top_tracks_levels(dataset: Path, tmp_path: Path) -> None:
    from codec.data.dataset import load_dataset
    from codec.eval.measure import ViewSet
    from codec.eval.points import clip_points

    clip = tmp_path / "c.fcv"
    encode_clip(synthetic_header(FIELD, FRAMES, GOF, 4), _chains(4)).write(clip)
    ds = load_dataset(dataset)
    test = ViewSet.from_dataset(ds, ds.test_views[:1], [0, 1], "test", torch.device("cpu"))
    pts = clip_points(clip, test, None, torch.device("cpu"), tmp_path / "pts", "top", False)
    assert sorted(p.label for p in pts) == ["r1/l3", "r2/l3", "r3/l3", "r4/l1", "r4/l2", "r4/l3"]
    lod = sorted((p for p in pts if p.track == 4), key=lambda p: p.level)
    assert [p.full_lod for p in lod] == [False, False, True]
    assert lod[0].bytes_per_frame < lod[1].bytes_per_frame < lod[2].bytes_per_frame
    assert all(p.psnr_train is None for p in pts)
    # Scored points are cached: a second call reads them back unchanged.
    again = clip_points(clip, test, None, torch.device("cpu"), tmp_path / "pts", "top", False)
    assert [p.psnr_test for p in again] == [p.psnr_test for p in pts]
    assert len(list((tmp_path / "pts").glob("*.json"))) == 6
