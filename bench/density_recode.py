"""Where a GoF's finest density symbols are, and what relaxing them would save (docs/RATE.md,
session 9). Works on saved float chains: an encoder checkpoint (`WORK/encoder/gof_0000.npz`)
or a `--save-chains` file, with the clip it was coded into (for the header and steps).

    python bench/density_recode.py where CHAINS CLIP [FRAME]
        finest-level non-zero symbols of tracks 1 and K, binned by the composed raw density
    python bench/density_recode.py recode CHAINS CLIP CEILING|none [DENSITY_FACTORS [FEATURE_FACTORS [OCCUPANCY]]]
        every frame's finest density level relaxed under the raw CEILING
        (`codec.encode.unseen.relaxed_density`, the value nearest 0 at every frame: no
        previous-frame preference), steps optionally scaled per track (comma lists, density
        and feature channels apart; empty = 1), re-coded (with the header's occupancy
        threshold set to OCCUPANCY if given; written to $RECODE_OUT if set, e.g. for
        `fieldcast bench render`), and every track scored at full LOD on the
        dataset's test views: KB/frame @ mean PSNR (per-frame PSNRs)

    python bench/density_recode.py restep CHAINS CLIP DENSITY_FACTORS FEATURE_FACTORS
        every track's steps of each level scaled (comma lists, one factor per level), re-coded
        and scored like `recode` (docs/RATE.md, session 11)

    python bench/density_recode.py settle CHAINS CLIP BETA
        P-frames' finest-track symbols that a residual under BETA of the step flipped across a
        bin edge, pulled back to the edge (no symbol), re-coded and scored (session 11)

    python bench/density_recode.py flips CHAINS CLIP
        P-frames: shares of non-zero residuals, of non-zero symbols per track, and of the
        finest track's symbols that are bin-edge crossings (session 11)

    python bench/density_recode.py split CHAINS CLIP
        KB of each (frame, kind, level) at every track: the empirical entropy of its symbols
        (per channel, zero order), a lower bound the coder's fitted tables come close to

    python bench/density_recode.py hidden CHAINS CLIP [EPS]
        per frame, the finest-lattice points no training ray reaches with transmittance > EPS
        (default 1e-3) in any of the 8 cells around them: density there could take its
        cheapest value without changing a training view by more than EPS

Needs FIGURE128 (default ../shared/bench/figure128) for `recode` and `hidden`. Run from the repository with
PYTHONPATH=. and the venv's python. One GoF of up to 3 frames is read.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from codec.container.chunks import unpack_gof
from codec.container.format import KIND_GOF, ChunkKey
from codec.container.reader import FcvFile, describe, read_source
from codec.field.compose import compose_density, upsample_density
from codec.quantize.closed_loop import quantize_frame


def load(chains: str, clip: str):  # noqa: ANN201
    z = np.load(chains, allow_pickle=False)
    f = FcvFile(read_source(clip))
    h = f.header
    frames = min(h.gof, h.frames, 3)
    pick = (lambda t, k, lv: f"g0/{k[0]}/{t}/{lv}") if "gofs" in z.files else (
        lambda t, k, lv: f"f{t}/{k}/{lv}")
    dens = [[torch.from_numpy(z[pick(t, "density", lv)]) for lv in range(h.levels)]
            for t in range(frames)]
    planes = [[torch.from_numpy(z[pick(t, "planes", lv)]) for lv in range(h.levels)]
              for t in range(frames)]
    if "gofs" in z.files:
        mlp = [(z[f"g0/w/{i}"], z[f"g0/b/{i}"]) for i in range(len(h.hidden) + 1)]
    else:
        mlp = [(z[f"mlp/{i}/w"], z[f"mlp/{i}/b"]) for i in range(len(h.hidden) + 1)]
    key = ChunkKey(KIND_GOF, 0, 0, 0, 0)
    steps, _ = unpack_gof(h, f.chunk(key), describe(key))
    return f, dens, planes, mlp, np.array(steps, np.float32)


def where(chains: str, clip: str, frame: int = 0) -> None:
    _, dens, _, _, steps = load(chains, clip)
    levels = dens[frame]
    fine = levels[-1]
    coarse = upsample_density(compose_density(levels[:-1]), fine.shape[-1]).numpy().ravel()
    composed = compose_density(levels).numpy().ravel()
    bins = [-np.inf, -10, -6, -3, 0, 3, 6, 10, np.inf]
    for r in (0, steps.shape[0] - 1):
        sym, _ = quantize_frame(fine, float(steps[r, -1, 0]), None)
        nz = sym.numpy().ravel() != 0
        print(f"track {r + 1}: {int(nz.sum())} non-zero finest-level density symbols")
        for lo, hi in zip(bins, bins[1:]):
            m = nz & (composed >= lo) & (composed < hi)
            mean_fine = float(np.abs(fine.numpy().ravel()[m]).mean()) if m.any() else 0.0
            mean_coarse = float(coarse[m].mean()) if m.any() else 0.0
            print(f"  composed in [{lo}, {hi}): {int(((composed >= lo) & (composed < hi)).sum())}"
                  f" points, {int(m.sum())} non-zero, mean |fine| {mean_fine:.2f},"
                  f" mean coarse {mean_coarse:.2f}")


def split(chains: str, clip: str) -> None:
    from codec.quantize.closed_loop import split_channels

    _, dens, planes, _, steps = load(chains, clip)
    k, levels = steps.shape[0], steps.shape[1]

    def entropy_bytes(sym: torch.Tensor) -> float:
        _, counts = torch.unique(sym, return_counts=True)
        p = counts.double() / counts.sum()
        return float(-(counts.double() * torch.log2(p)).sum()) / 8

    for r in range(k):
        state: dict[int, list] = {}
        rows = []
        for t in range(len(dens)):
            per_kind = {"density": [0.0] * levels, "planes": [0.0] * levels}
            for lv in range(levels):
                values = split_channels(dens[t][lv], planes[t][lv])
                prev = state.get(lv) or [None] * len(values)
                new = []
                for c, (v, qp) in enumerate(zip(values, prev)):
                    sym, tot = quantize_frame(v, float(steps[r, lv, c]), qp)
                    new.append(tot)
                    per_kind["density" if c == 0 else "planes"][lv] += entropy_bytes(sym) / 1000
                state[lv] = new
            rows.append(per_kind)
        for kind in ("density", "planes"):
            cells = " | ".join("/".join(f"{row[kind][lv]:.1f}" for lv in range(levels))
                               for row in rows)
            total = sum(sum(row[kind]) for row in rows) / len(rows)
            print(f"track {r + 1} {kind:7s} KB per level, frame by frame: {cells}"
                  f"  (mean {total:.1f} KB/frame)")


def recode(chains: str, clip: str, ceiling: str, dens_f: str = "", feat_f: str = "",
           occupancy: str = "") -> None:
    import dataclasses

    from codec.encode.unseen import relaxed_density

    torch.set_num_threads(1)
    f, dens, planes, mlp, steps = load(chains, clip)
    k = steps.shape[0]
    if ceiling != "none":
        for levels in dens:
            levels[-1] = relaxed_density(levels, float(ceiling))
    for r, x in enumerate((dens_f or ",".join(["1"] * k)).split(",")):
        steps[r, :, 0] *= float(x)
    for r, x in enumerate((feat_f or ",".join(["1"] * k)).split(",")):
        steps[r, :, 1:] *= float(x)
    header = f.header
    if occupancy:
        render = dataclasses.replace(header.render, occupancy_threshold=float(occupancy))
        header = dataclasses.replace(header, render=render)
    scores = score(header, dens, planes, mlp, steps)
    print(f"ceiling {ceiling}, occupancy threshold {header.render.occupancy_threshold}:",
          scores, flush=True)


def score(header, dens, planes, mlp, steps) -> str:  # noqa: ANN001
    """Code the chains with `steps` under `header` (written to $RECODE_OUT if set) and score
    every track at full LOD on the dataset's test views:
    "KB/frame@PSNR (per-frame PSNRs) | ..."."""
    from codec.data.dataset import load_dataset
    from codec.decode import Decoder
    from codec.decode.info import clip_info
    from codec.encode.quantized import GofChains, encode_clip
    from codec.eval.measure import ViewSet, measure_point

    data = encode_clip(header, [GofChains(dens, planes, mlp, steps)]).build().data
    if os.environ.get("RECODE_OUT"):
        with open(os.environ["RECODE_OUT"], "wb") as out_file:
            out_file.write(data)
    info = clip_info(FcvFile(data), len(data))
    top = header.levels
    kb = {p["track"]: p["bytes_per_frame"] / 1000 for p in info["operating_points"]
          if p["level"] == top}
    ds = load_dataset(os.environ.get("FIGURE128", "../shared/bench/figure128"))
    dev = torch.device("cpu")
    dec = Decoder(data, dev)
    views = ViewSet.from_dataset(ds, list(ds.test_views), list(range(len(dens))), "test", dev)
    out = []
    for r in range(steps.shape[0]):
        s = measure_point(lambda t, r=r: dec.frame(t, r, top), views)
        per = "/".join(f"{x:.2f}" for x in s.psnr_per_frame)
        out.append(f"{kb[r]:.1f}@{s.psnr:.2f} ({per})")
    return " | ".join(out)


def restep(chains: str, clip: str, dens_f: str, feat_f: str) -> None:
    """Every track's steps of level l times the l-th factor (density and feature channels
    apart, comma lists of one factor per level), re-coded and scored."""
    torch.set_num_threads(1)
    f, dens, planes, mlp, steps = load(chains, clip)
    for lv, (x, y) in enumerate(zip(dens_f.split(","), feat_f.split(","), strict=True)):
        steps[:, lv, 0] *= float(x)
        steps[:, lv, 1:] *= float(y)
    print(f"level factors density {dens_f} features {feat_f}:",
          score(f.header, dens, planes, mlp, steps), flush=True)


def settle(chains: str, clip: str, beta: str) -> None:
    """P-frames: where the finest track's symbol changes although the float value moved less
    than `beta` of its step (a bin edge crossed by a small residual), pull the value back to
    the edge of its previous bin (so the symbol is 0), frame by frame; re-coded and scored."""
    from codec.quantize.closed_loop import split_channels

    torch.set_num_threads(1)
    f, dens, planes, mlp, steps = load(chains, clip)
    top, b = steps.shape[0] - 1, float(beta)
    moved = 0

    def settled(cur: torch.Tensor, prev: torch.Tensor, step: float) -> torch.Tensor:
        nonlocal moved
        s = torch.tensor(step, dtype=torch.float32)
        q_prev = torch.round(prev / s)
        small = ((cur - prev).abs() < b * step) & (torch.round(cur / s) != q_prev)
        edge = torch.clamp(cur, (q_prev - 0.5 + 1e-3) * s, (q_prev + 0.5 - 1e-3) * s)
        kept = small & (torch.round(edge / s) == q_prev)
        moved += int(kept.sum())
        return torch.where(kept, edge, cur)

    for t in range(1, len(dens)):
        for lv in range(steps.shape[1]):
            prev = split_channels(dens[t - 1][lv], planes[t - 1][lv])
            cur = split_channels(dens[t][lv], planes[t][lv])
            new = [settled(c.float(), p.float(), float(steps[top, lv, i]))
                   for i, (c, p) in enumerate(zip(cur, prev))]
            dens[t][lv] = new[0]
            planes[t][lv] = torch.stack(new[1:], dim=1)
    print(f"settled {moved} values (beta {beta}):", score(f.header, dens, planes, mlp, steps),
          flush=True)


def flips(chains: str, clip: str) -> None:
    """Per P-frame, kind and level: the share of elements whose residual is non-zero, of
    non-zero symbols in each track, and of the finest track's non-zero symbols that are
    bin-edge crossings (residual under half its step)."""
    from codec.quantize.closed_loop import split_channels

    _, dens, planes, _, steps = load(chains, clip)
    k, levels = steps.shape[0], steps.shape[1]
    for t in range(1, len(dens)):
        for kind in ("density", "planes"):
            cells = []
            for lv in range(levels):
                cur = split_channels(dens[t][lv], planes[t][lv])
                prev = split_channels(dens[t - 1][lv], planes[t - 1][lv])
                chans = [0] if kind == "density" else list(range(1, len(cur)))
                n = live_residual = crossings = 0
                live = [0] * k
                for c in chans:
                    resid = (cur[c] - prev[c]).double()
                    n += resid.numel()
                    live_residual += int((resid != 0).sum())
                    for r in range(k):
                        s = float(steps[r, lv, c])
                        q = torch.round(cur[c].double() / s) - torch.round(prev[c].double() / s)
                        live[r] += int((q != 0).sum())
                        if r == k - 1:
                            crossings += int(((q != 0) & (resid.abs() < s / 2)).sum())
                cells.append(f"L{lv + 1} {live_residual / n:.3f} "
                             + "/".join(f"{x / n:.3f}" for x in live)
                             + f" {crossings / max(live[-1], 1):.2f}")
            print(f"frame {t} {kind:7s} residual!=0, symbol!=0 per track, edge crossings: "
                  + " | ".join(cells))


def hidden(chains: str, clip: str, eps: float = 1e-3) -> None:
    import torch.nn.functional as F

    from codec.data.dataset import load_dataset
    from codec.field.occupancy import step_size
    from codec.render.torch_renderer import ray_box
    from codec.train.rays import frame_rays

    torch.set_num_threads(1)
    f, dens, _, _, _ = load(chains, clip)
    aabb = torch.tensor(f.header.aabb, dtype=torch.float32)
    render = f.header.render
    ds = load_dataset(os.environ.get("FIGURE128", "../shared/bench/figure128"))
    for t, levels in enumerate(dens):
        density = compose_density(levels)
        n = density.shape[-1]
        step = step_size(aabb, n, render)
        seen = torch.zeros((n - 1) ** 3, dtype=torch.bool)
        rays = frame_rays(ds, t, ds.train_views, torch.device("cpu"))
        for a in range(0, rays.count, 8192):
            o, d = rays.origins[a:a + 8192], rays.dirs[a:a + 8192]
            t0, t1 = ray_box(o, d, aabb)
            span = float((t1 - t0).clamp_min(0).max())
            if span <= 0:
                continue
            k = torch.arange(int(np.ceil(span / step)))
            ts = t0[:, None] + (k[None] + 0.5) * step
            valid = ts < t1[:, None]
            u = ((o[:, None] + d[:, None] * ts[..., None] - aabb[0]) / (aabb[1] - aabb[0]))
            u = u.clamp(0, 1)
            raw = F.grid_sample(density[None, None], (u * 2 - 1).view(1, 1, 1, -1, 3),
                                mode="bilinear", padding_mode="border",
                                align_corners=True).view(u.shape[:2])
            sd = F.softplus(raw + render.density_shift) * step * valid
            before = torch.exp(-(torch.cumsum(sd, 1) - sd))
            c = (u[valid & (before > eps)] * (n - 1)).floor().long().clamp(0, n - 2)
            seen[(c[:, 2] * (n - 1) + c[:, 1]) * (n - 1) + c[:, 0]] = True
        cells = seen.view(n - 1, n - 1, n - 1)
        points = torch.zeros(n, n, n, dtype=torch.bool)
        for a in (0, 1):
            for b in (0, 1):
                for c2 in (0, 1):
                    points[a:n - 1 + a, b:n - 1 + b, c2:n - 1 + c2] |= cells
        print(f"frame {t}: {int((~points).sum())} of {points.numel()} points hidden"
              f" (transmittance <= {eps} in every sample around them)", flush=True)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "where":
        where(args[0], args[1], int(args[2]) if len(args) > 2 else 0)
    elif cmd == "recode":
        recode(*args)
    elif cmd == "split":
        split(args[0], args[1])
    elif cmd == "restep":
        restep(*args)
    elif cmd == "settle":
        settle(*args)
    elif cmd == "flips":
        flips(args[0], args[1])
    elif cmd == "hidden":
        hidden(args[0], args[1], float(args[2]) if len(args) > 2 else 1e-3)
    else:
        raise SystemExit(__doc__)
