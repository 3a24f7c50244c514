"""The synthetic dynamic scene: an animated, textured, volumetric figure, ray-marched exactly.

The figure (y up, inside [-1, 1]^3) stands on a static pedestal: a capsule skeleton (torso, head,
arms with hands, legs) smoothly blended into one body, plus a ringed "moon" that orbits it. The
right arm swings from raised to lowered and the moon crosses the scene (large motion), while the
torso bobs, leans and twists and the head nods (smooth motion). Every part carries solid textures
in its own rest frame (stripes, checkers, rings, dots) times a luminance noise at three spatial
scales, so texture moves rigidly with the part. Diffuse shading is baked into the colour (the
scene is view-independent).

Density is ``sigma_max * sigmoid(-sdf / eps)``. Ground truth is a fine quadrature of the volume
rendering integral (step `step` world units, 256 samples across the box by default): empty space
is skipped only where a rigorous lower bound of the SDF (a coarse SDF grid minus its Lipschitz
error) shows the density is below ~1e-4, so skipping changes no 8-bit pixel.
"""

from __future__ import annotations

import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import FieldCastError
from .cameras import Camera, orbit_camera
from .dataset import TRANSFORMS, DatasetWriter, to_uint8

# Part indices. Capsules come first so they can be evaluated as one batch.
TORSO, HEAD, UPPER_R, FORE_R, HAND_R, UPPER_L, FORE_L, HAND_L, LEG_R, LEG_L, MOON = range(11)
RING, PEDESTAL = 11, 12
N_CAPSULES, N_PARTS = 11, 13
BODY = list(range(LEG_L + 1))  # smoothly blended into one body


@dataclass
class SynthConfig:
    """What `fieldcast synth` generates. Defaults match `make run`."""

    frames: int = 10
    views: int = 24
    """Total cameras; `test_views` of them are held out."""
    test_views: int = 4
    resolution: int = 96
    seed: int = 0
    fps: float = 10.0
    """Frame rate; the animation runs in seconds, so more frames = finer time steps."""
    radius: float = 3.2
    fov_deg: float = 40.0
    eps: float = 0.012
    """Width of the density's soft surface (world units)."""
    sigma_max: float = 50.0
    step: float = 2.0 / 256
    """Quadrature step along rays (world units): 256 samples across the box."""
    blend: float = 0.03
    """Smooth-union radius where body parts meet."""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    aabb: tuple[tuple[float, ...], tuple[float, ...]] = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))
    chunk_rays: int = 1 << 18


# ------------------------------------------------------------------------------ small maths
def _rot(axis: str, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _align_y(direction: np.ndarray) -> np.ndarray:
    """A rotation taking +y onto `direction` (unit), by the shortest arc."""
    y = np.array([0.0, 1.0, 0.0])
    d = direction / np.linalg.norm(direction)
    v = np.cross(y, d)
    c = float(y @ d)
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    h = h % 1.0
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def _smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0, 1)
    return t * t * (3 - 2 * t)


# ------------------------------------------------------------------------------ the scene
@dataclass
class Pose:
    """Rigid part transforms at one instant: world = R @ local + T."""

    R: np.ndarray  # (P,3,3)
    T: np.ndarray  # (P,3)
    length: np.ndarray  # (N_CAPSULES,) capsule lengths along local +y
    radius: np.ndarray  # (N_CAPSULES,)


@dataclass
class SyntheticScene:
    """The animated figure; every random choice (palette, phases, noise) comes from `seed`."""

    seed: int = 0
    blend: float = 0.03
    palette: np.ndarray = field(init=False, repr=False)
    noise_dirs: np.ndarray = field(init=False, repr=False)
    noise_phase: np.ndarray = field(init=False, repr=False)
    phase: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        hue = rng.uniform(0, 1)
        # Two related hues per part (base, accent), spread round the colour wheel.
        pal = np.zeros((N_PARTS, 2, 3))
        spec = {
            TORSO: (0.00, 0.65, 0.85, 0.55, 0.35, 0.95),
            HEAD: (0.08, 0.35, 0.95, 0.60, 0.70, 0.40),
            UPPER_R: (0.50, 0.55, 0.80, 0.50, 0.15, 0.97),
            FORE_R: (0.50, 0.55, 0.80, 0.50, 0.15, 0.97),
            HAND_R: (0.12, 0.45, 0.95, 0.12, 0.45, 0.95),
            UPPER_L: (0.33, 0.55, 0.80, 0.33, 0.15, 0.97),
            FORE_L: (0.33, 0.55, 0.80, 0.33, 0.15, 0.97),
            HAND_L: (0.12, 0.45, 0.95, 0.12, 0.45, 0.95),
            LEG_R: (0.70, 0.60, 0.55, 0.15, 0.75, 0.95),
            LEG_L: (0.70, 0.60, 0.55, 0.15, 0.75, 0.95),
            MOON: (0.90, 0.70, 0.95, 0.20, 0.10, 1.00),
            RING: (0.14, 0.80, 0.95, 0.10, 0.90, 0.55),
            PEDESTAL: (0.60, 0.15, 0.35, 0.60, 0.05, 0.92),
        }
        skin = {HEAD, HAND_R, HAND_L}  # skin keeps its hue whatever the seed
        for p, (h0, s0, v0, h1, s1, v1) in spec.items():
            pal[p, 0] = _hsv(h0 if p in skin else hue + h0, s0, v0)
            pal[p, 1] = _hsv(hue + h1, s1, v1)
        self.palette = pal
        dirs = rng.normal(size=(3, 4, 3))
        self.noise_dirs = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
        self.noise_phase = rng.uniform(0, 2 * math.pi, size=(3, 4))
        self.phase = rng.uniform(-0.15, 0.15, size=8)  # small per-seed variation of the dance

    # -------------------------------------------------------------------------- animation
    def pose(self, t: float) -> Pose:
        """Part transforms at time `t` seconds."""
        ph = self.phase
        R = np.tile(np.eye(3), (N_PARTS, 1, 1))
        T = np.zeros((N_PARTS, 3))
        length = np.zeros(N_CAPSULES)
        radius = np.zeros(N_CAPSULES)
        tau = 2 * math.pi

        # Torso: bobs, leans and twists (smooth motion).
        hip = np.array([0.0, -0.27 + 0.035 * math.sin(tau * (t / 1.1 + ph[0])), 0.0])
        r_torso = (
            _rot("y", 30 * math.sin(tau * (t / 2.2 + ph[1])))
            @ _rot("z", 9 * math.sin(tau * (t / 1.6 + ph[2])))
            @ _rot("x", 5 * math.sin(tau * t / 1.3))
        )
        R[TORSO], T[TORSO] = r_torso, hip
        length[TORSO], radius[TORSO] = 0.30, 0.175

        def attach(local: np.ndarray) -> np.ndarray:
            return hip + r_torso @ local

        # Head: nods and turns on the neck.
        R[HEAD] = r_torso @ _rot("y", 25 * math.sin(tau * (t / 1.9 + ph[3]))) @ _rot(
            "x", 12 * math.sin(tau * t / 1.3)
        )
        T[HEAD] = attach(np.array([0.0, 0.58, 0.0]))
        length[HEAD], radius[HEAD] = 0.05, 0.15

        # Arms: shoulder angle theta from hanging (0) through horizontal (90) to raised (180).
        def arm(side: float, theta: float, swing: float, elbow: float, parts: tuple[int, int, int]):
            up, fore, hand = parts
            shoulder = attach(np.array([side * 0.215, 0.33, 0.0]))
            r_up = r_torso @ _rot("x", swing) @ _rot("z", side * theta) @ _rot("z", 180)
            R[up], T[up] = r_up, shoulder
            length[up], radius[up] = 0.24, 0.058
            elbow_pos = shoulder + r_up @ np.array([0.0, 0.24, 0.0])
            r_fore = r_up @ _rot("x", elbow)
            R[fore], T[fore] = r_fore, elbow_pos
            length[fore], radius[fore] = 0.21, 0.05
            R[hand], T[hand] = r_fore, elbow_pos + r_fore @ np.array([0.0, 0.25, 0.0])
            length[hand], radius[hand] = 0.0, 0.068

        # Right arm: one big sweep from raised high to lowered (large motion).
        arm(1.0, 95 + 70 * math.cos(math.pi * t / 1.0 + ph[4]), 15 * math.sin(tau * t / 1.4),
            35 + 30 * math.sin(tau * t / 1.2), (UPPER_R, FORE_R, HAND_R))
        # Left arm: waves.
        arm(-1.0, 70 + 25 * math.sin(tau * (t / 0.8 + ph[5])), -10.0,
            70 + 35 * math.sin(tau * (t / 0.8 + ph[5]) + 1.0), (UPPER_L, FORE_L, HAND_L))

        # Legs: from the feet (fixed on the pedestal) up to the hips, stretching a little.
        for leg, side in ((LEG_R, 1.0), (LEG_L, -1.0)):
            foot = np.array([side * 0.115, -0.74, 0.02])
            hip_j = attach(np.array([side * 0.1, 0.0, 0.0]))
            d = hip_j - foot
            R[leg], T[leg] = _align_y(d), foot
            length[leg], radius[leg] = float(np.linalg.norm(d)), 0.072

        # Moon: orbits the figure (large motion) and spins; its ring is tilted and precesses.
        a = tau * (t / 2.4 + 0.1 + ph[6])
        centre = np.array([0.6 * math.sin(a), 0.38 + 0.08 * math.sin(tau * t / 1.7), 0.6 * math.cos(a)])
        R[MOON], T[MOON] = _rot("y", 360 * t / 1.5) @ _rot("z", 20), centre
        length[MOON], radius[MOON] = 0.0, 0.1
        R[RING] = _rot("y", 90 * t + 40 * ph[7]) @ _rot("x", 28)
        T[RING] = centre

        T[PEDESTAL] = np.array([0.0, -0.82, 0.0])
        return Pose(R, T, length, radius)

    # -------------------------------------------------------------------------- geometry
    @staticmethod
    def _pose_tensors(pose: Pose, device: torch.device) -> dict[str, torch.Tensor]:
        f = torch.float32
        # Rows of M map a homogeneous world point to one local coordinate: (axis, part) order.
        rt = np.transpose(pose.R, (0, 2, 1))  # R^T per part
        m = np.concatenate([rt, -np.einsum("pij,pj->pi", rt, pose.T)[..., None]], axis=2)
        m = np.transpose(m, (1, 0, 2)).reshape(3 * N_PARTS, 4)
        return {
            "M": torch.as_tensor(m, dtype=f, device=device),
            "R": torch.as_tensor(pose.R, dtype=f, device=device),
            "T": torch.as_tensor(pose.T, dtype=f, device=device),
            "L": torch.as_tensor(pose.length, dtype=f, device=device),
            "r": torch.as_tensor(pose.radius, dtype=f, device=device),
        }

    def sdf(
        self, p: torch.Tensor, pt: dict[str, torch.Tensor], *, details: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Signed distance (N,) of world points (N,3). 1-Lipschitz (exact primitives,
        exponential smooth union). With `details`, also the nearest part (N,) and each point's
        coordinates (N,3) in that part's rest frame."""
        n = p.shape[0]
        # Every part's local coordinates, laid out (axis, part, point) so the per-part maths
        # below runs on contiguous (P, N) rows. Elementwise rather than a GEMM, so a ray's
        # result never depends on which other rays share its batch.
        m = pt["M"]
        x, y, z = p.T.contiguous()
        q = torch.addcmul(m[:, 3:4], m[:, 0:1], x)
        q.addcmul_(m[:, 1:2], y).addcmul_(m[:, 2:3], z)
        q = q.view(3, N_PARTS, n)
        qx, qy, qz = q[0], q[1], q[2]
        cx, cy, cz = qx[:N_CAPSULES], qy[:N_CAPSULES], qz[:N_CAPSULES]
        yc = torch.minimum(cy.clamp_min(0), pt["L"][:, None])
        d_caps = torch.sqrt(cx * cx + (cy - yc) ** 2 + cz * cz) - pt["r"][:, None]
        # Ring: torus in the local xz-plane, major radius 0.19, minor 0.022.
        rx, ry, rz = qx[RING], qy[RING], qz[RING]
        d_ring = torch.sqrt((torch.sqrt(rx * rx + rz * rz) - 0.19) ** 2 + ry * ry) - 0.022
        # Pedestal: rounded cylinder (radius 0.5, half-height 0.06, rounding 0.025).
        ex, ey, ez = qx[PEDESTAL], qy[PEDESTAL], qz[PEDESTAL]
        dx = torch.sqrt(ex * ex + ez * ez) - (0.5 - 0.025)
        dy = ey.abs() - (0.06 - 0.025)
        d_ped = (
            torch.maximum(dx, dy).clamp_max(0)
            + torch.sqrt(dx.clamp_min(0) ** 2 + dy.clamp_min(0) ** 2)
            - 0.025
        )
        k = self.blend
        body = -k * torch.logsumexp(d_caps[: len(BODY)] * (-1.0 / k), dim=0)
        d = torch.minimum(torch.minimum(body, d_caps[MOON]), torch.minimum(d_ring, d_ped))
        if not details:
            return d, None, None
        # argmin over the parts, unrolled: torch reduces a short outer dimension slowly.
        best, part = d_caps[0], torch.zeros(n, dtype=torch.long, device=p.device)
        for k, dk in enumerate([*d_caps[1:], d_ring, d_ped], start=1):
            closer = dk < best
            best = torch.where(closer, dk, best)
            part = torch.where(closer, k, part)
        ql = q[:, part, torch.arange(n, device=p.device)].T
        return d, part, ql.contiguous()

    # -------------------------------------------------------------------------- appearance
    def _noise(self, q: torch.Tensor) -> torch.Tensor:
        """Luminance factor around 1 from sine waves at three scales (wavelengths ~1.2, 0.37, 0.11)."""
        x, y, z = q.T.contiguous()
        out = torch.ones_like(x)
        waves = self.noise_dirs.shape[1]
        for octave, (freq, amp) in enumerate(((5.0, 0.13), (17.0, 0.08), (55.0, 0.05))):
            for wave in range(waves):
                a, b, c = (freq * float(v) for v in self.noise_dirs[octave, wave])
                arg = x * a + y * b + z * c + float(self.noise_phase[octave, wave])
                out += (2.0 * amp / waves) * torch.sin(arg)
        return out

    def _albedo(self, part: int, q: torch.Tensor) -> torch.Tensor:
        """Base colour of `part` at local points q (M,3)."""
        pal = torch.as_tensor(self.palette[part], dtype=q.dtype, device=q.device)
        x, y, z = q[:, 0], q[:, 1], q[:, 2]
        ang = torch.atan2(z, x)
        if part == TORSO:
            m = _smoothstep(-0.25, 0.25, torch.sin(2 * math.pi * 3.2 * y + 2 * ang))
            belt = _smoothstep(0.018, 0.008, (y - 0.02).abs())
            buttons = _smoothstep(0.022, 0.014, torch.sqrt(x**2 + ((y - 0.1) % 0.09 - 0.045) ** 2)) * (z > 0)
            m = torch.maximum(m, belt) * (1 - buttons)
        elif part == HEAD:
            cap = _smoothstep(0.02, 0.05, y)
            checker = (torch.sin(13 * x) * torch.sin(13 * y) * torch.sin(13 * z) > 0).to(q.dtype)
            eyes = torch.minimum(
                torch.sqrt((x - 0.055) ** 2 + (y + 0.005) ** 2 + (z - 0.14) ** 2),
                torch.sqrt((x + 0.055) ** 2 + (y + 0.005) ** 2 + (z - 0.14) ** 2),
            )
            mouth = ((torch.sqrt(x**2 + (y + 0.02) ** 2) - 0.07).abs() < 0.012) & (y < -0.05) & (z > 0)
            m = cap * (0.35 + 0.65 * checker)
            colour = pal[0] * (1 - m[:, None]) + pal[1] * m[:, None]
            dark = ((eyes < 0.034) | mouth).to(q.dtype)[:, None]
            return colour * (1 - dark) + 0.08 * dark
        elif part in (UPPER_R, FORE_R, UPPER_L, FORE_L):
            m = _smoothstep(-0.3, 0.3, torch.sin(2 * math.pi * y / 0.06))
        elif part in (LEG_R, LEG_L):
            m = _smoothstep(-0.2, 0.2, torch.sin(2 * math.pi * (y * 7 + 0.08 * torch.sin(3 * ang))))
        elif part == MOON:
            m = (torch.sin(3 * ang) > 0).to(q.dtype)
        elif part == RING:
            r = torch.sqrt(x**2 + z**2)
            m = 0.5 + 0.5 * torch.sin(2 * math.pi * r / 0.012) * torch.sin(24 * ang)
        elif part == PEDESTAL:
            top = _smoothstep(0.02, 0.04, y)
            r = torch.sqrt(x**2 + z**2)
            checker = (torch.sin(9 * x) * torch.sin(9 * z) > 0).to(q.dtype)
            rings = _smoothstep(0.004, 0.0, (r - 0.44).abs() - 0.012)
            m = top * torch.maximum(checker, rings) + (1 - top) * 0.5 * (torch.sin(40 * ang) > 0)
        else:  # hands
            m = torch.zeros_like(x)
        return pal[0] * (1 - m[:, None]) + pal[1] * m[:, None]

    def _normal(self, part: torch.Tensor, q: torch.Tensor, pt: dict[str, torch.Tensor]) -> torch.Tensor:
        """Local-frame normal of each point's own part (M,3), analytic per primitive."""
        n = torch.zeros_like(q)
        cap = part < N_CAPSULES
        if cap.any():
            qc = q[cap]
            yc = torch.minimum(qc[:, 1].clamp_min(0), pt["L"][part[cap]])
            n[cap] = qc - torch.stack([torch.zeros_like(yc), yc, torch.zeros_like(yc)], dim=-1)
        ring = part == RING
        if ring.any():
            qr = q[ring]
            rxz = torch.sqrt(qr[:, 0] ** 2 + qr[:, 2] ** 2).clamp_min(1e-6)
            centre = torch.stack([qr[:, 0] / rxz * 0.19, torch.zeros_like(rxz), qr[:, 2] / rxz * 0.19], -1)
            n[ring] = qr - centre
        ped = part == PEDESTAL
        if ped.any():
            qp = q[ped]
            rxz = torch.sqrt(qp[:, 0] ** 2 + qp[:, 2] ** 2).clamp_min(1e-6)
            dx = rxz - (0.5 - 0.025)
            dy = qp[:, 1].abs() - (0.06 - 0.025)
            gx, gy = dx.clamp_min(0), dy.clamp_min(0)
            inside = (gx == 0) & (gy == 0)
            gx = torch.where(inside, (dx > dy).to(q.dtype), gx)
            gy = torch.where(inside, (dy >= dx).to(q.dtype), gy)
            gy = gy * torch.sign(qp[:, 1])
            n[ped] = torch.stack([qp[:, 0] / rxz * gx, gy, qp[:, 2] / rxz * gx], -1)
        return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-8)

    def colour(self, p: torch.Tensor, pt: dict[str, torch.Tensor]) -> torch.Tensor:
        """Shaded RGB (N,3) in [0,1] of world points (N,3), from each point's nearest part."""
        _, part, ql = self.sdf(p, pt, details=True)
        return self.shade(part, ql, pt)

    def shade(self, part: torch.Tensor, ql: torch.Tensor, pt: dict[str, torch.Tensor]) -> torch.Tensor:
        """Shaded RGB (N,3) from each point's part (N,) and rest-frame coordinates (N,3)."""
        p = ql
        albedo = torch.empty_like(p)
        for k in range(N_PARTS):
            sel = part == k
            if sel.any():
                albedo[sel] = self._albedo(k, ql[sel])
        albedo = albedo * self._noise(ql)[:, None]
        n_local = self._normal(part, ql, pt)
        n = torch.einsum("nij,nj->ni", pt["R"][part], n_local)
        light = torch.tensor([0.45, 0.75, 0.5], dtype=p.dtype, device=p.device)
        light = light / light.norm()
        diffuse = (n @ light).clamp_min(0)
        sky = 0.5 + 0.5 * n[:, 1]
        shade = 0.38 + 0.5 * diffuse + 0.2 * sky
        return (albedo * shade[:, None]).clamp(0, 1)


# ------------------------------------------------------------------------------ rendering
def _ray_box(o: torch.Tensor, d: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor):
    safe = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
    ta, tb = (lo - o) / safe, (hi - o) / safe
    return torch.minimum(ta, tb).amax(-1).clamp_min(0), torch.maximum(ta, tb).amin(-1)


def segment_opacity(s0: torch.Tensor, s1: torch.Tensor, length: torch.Tensor, eps: float) -> torch.Tensor:
    """Integral of sigmoid(-s/eps) over a segment along which the SDF goes linearly s0 -> s1.

    Exact for a linear SDF (a plane), and the SDF is smooth on the scale of a step, so this is a
    far better quadrature than the midpoint rule at the same number of SDF evaluations.
    """
    ds = s1 - s0
    sp0 = F.softplus(-s0 / eps)
    sp1 = F.softplus(-s1 / eps)
    exact = length * eps * (sp0 - sp1) / torch.where(ds.abs() < 1e-4, torch.ones_like(ds), ds)
    mid = length * torch.sigmoid(-(s0 + s1) / (2 * eps))
    return torch.where(ds.abs() < 1e-4, mid, exact)


class FrameRenderer:
    """Ray marcher for one instant of the scene.

    Empty space is crossed by sphere tracing on a lower bound of the SDF (a coarse grid minus its
    Lipschitz error, then the exact SDF), down to the zone `sdf <= cutoff` where the density
    starts to matter (`cutoff` = 10 eps: sigma < 50 e^-10 = 2.3e-3 per unit length, so the skipped
    opacity is below 1e-3). Inside that zone the ray is integrated segment by segment with the
    exact SDF at every step: `step` within 3 eps of the surface, up to 4 steps further out or
    deeper inside, where the density is flat.
    """

    GRID = 48
    CUTOFF_EPS = 10.0
    T_STOP = 1e-4
    W_MIN = 1e-4  # segments lighter than this add opacity but are not shaded

    def __init__(self, scene: SyntheticScene, cfg: SynthConfig, time: float, device: torch.device):
        self.scene, self.cfg, self.device = scene, cfg, device
        self.pt = scene._pose_tensors(scene.pose(time), device)
        self.lo = torch.tensor(cfg.aabb[0], dtype=torch.float32, device=device)
        self.hi = torch.tensor(cfg.aabb[1], dtype=torch.float32, device=device)
        n = self.GRID
        axes = [torch.linspace(float(self.lo[i]), float(self.hi[i]), n, device=device) for i in range(3)]
        zz, yy, xx = torch.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
        pts = torch.stack([xx, yy, zz], -1).reshape(-1, 3)
        vals = torch.cat([scene.sdf(c, self.pt)[0] for c in pts.split(1 << 16)])
        self.grid = vals.reshape(1, 1, n, n, n)
        spacing = (self.hi - self.lo) / (n - 1)
        # Trilinear interpolation of a 1-Lipschitz function is within a cell diagonal of it.
        self.grid_err = float(spacing.norm()) + 1e-4
        self.cutoff = self.CUTOFF_EPS * cfg.eps

    def _bound(self, p: torch.Tensor) -> torch.Tensor:
        """A lower bound on the SDF at p (N,3), from the coarse grid."""
        u = (p - self.lo) / (self.hi - self.lo) * 2 - 1
        v = F.grid_sample(self.grid, u.view(1, -1, 1, 1, 3), mode="bilinear", align_corners=True)
        return v.view(-1) - self.grid_err

    def render(self, origins: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
        """Straight-alpha RGBA (N,4) for unit-direction rays."""
        out = []
        for o, d in zip(origins.split(self.cfg.chunk_rays), dirs.split(self.cfg.chunk_rays)):
            out.append(self._render_chunk(o, d))
        return torch.cat(out)

    def _render_chunk(self, origins: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
        cfg, scene, dev = self.cfg, self.scene, self.device
        n = origins.shape[0]
        dt, eps, cut = cfg.step, cfg.eps, self.cutoff
        t0, t1 = _ray_box(origins, dirs, self.lo, self.hi)
        colour = torch.zeros(n, 3, device=dev)
        shaded = torch.zeros(n, device=dev)
        trans = torch.ones(n, device=dev)
        idx = torch.nonzero(t1 > t0).view(-1)
        t, tend, o, d = t0[idx], t1[idx], origins[idx], dirs[idx]
        tr = torch.ones_like(t)
        near = torch.zeros_like(t, dtype=torch.bool)
        s_prev = torch.zeros_like(t)
        while idx.numel():
            far = torch.nonzero(~near).view(-1)
            if far.numel():
                p = o[far] + t[far, None] * d[far]
                b = self._bound(p)
                go = b > cut
                t[far[go]] += (b[go] - cut).clamp_min(dt)
                check = far[~go]
                if check.numel():
                    s = scene.sdf(p[~go], self.pt)[0]
                    stay = s > cut
                    t[check[stay]] += (s[stay] - cut).clamp_min(dt)
                    enter = check[~stay]
                    near[enter] = True
                    s_prev[enter] = s[~stay]
            ni = torch.nonzero(near).view(-1)
            if ni.numel():
                sp = s_prev[ni]
                seg = dt * (1 + 3 * ((sp.abs() - 3 * eps) / (5 * eps)).clamp(0, 1))
                tn = t[ni] + seg
                s1, part, ql = scene.sdf(o[ni] + tn[:, None] * d[ni], self.pt, details=True)
                tau = cfg.sigma_max * segment_opacity(sp, s1, seg, eps)
                alpha = 1 - torch.exp(-tau)
                w = tr[ni] * alpha
                vis = w > self.W_MIN
                if vis.any():
                    rgb = scene.shade(part[vis], ql[vis], self.pt)
                    colour.index_add_(0, idx[ni[vis]], w[vis, None] * rgb)
                    shaded.index_add_(0, idx[ni[vis]], w[vis])
                tr[ni] = tr[ni] * (1 - alpha)
                t[ni] = tn
                s_prev[ni] = s1
                near[ni[s1 > cut]] = False
            keep = (t < tend) & (tr > self.T_STOP)
            if not keep.all():
                done = ~keep
                trans[idx[done]] = tr[done]
                idx, t, tend, o, d = idx[keep], t[keep], tend[keep], o[keep], d[keep]
                tr, near, s_prev = tr[keep], near[keep], s_prev[keep]
        alpha = torch.where(trans <= self.T_STOP, torch.ones_like(trans), 1 - trans)
        bg = torch.tensor(cfg.background, dtype=torch.float32, device=dev)
        # Normalise by the weight that was actually shaded, so unshaded slivers don't darken.
        straight = torch.where(
            shaded[:, None] > 1e-6, colour / shaded.clamp_min(1e-6)[:, None], bg.expand(n, 3)
        )
        return torch.cat([straight.clamp(0, 1), alpha[:, None]], dim=-1)


# ------------------------------------------------------------------------------ cameras
def dome_cameras(cfg: SynthConfig) -> tuple[list[Camera], list[int]]:
    """Training cameras on three rings (-10, 20, 50 deg) and test cameras between the rings
    (5 and 35 deg) at azimuths halfway between training ones: no test camera shares a
    position with a training camera. Returns all cameras and the test indices (the last ones)."""
    n_test = cfg.test_views
    n_train = cfg.views - n_test
    if n_train < 1 or n_test < 0:
        raise ValueError(f"need at least one training view (views={cfg.views}, test_views={n_test})")
    rings = (-10.0, 20.0, 50.0)
    weights = np.array([math.cos(math.radians(e)) for e in rings])
    counts = np.floor(weights / weights.sum() * n_train).astype(int)
    for i in np.argsort(-weights)[: n_train - counts.sum()]:
        counts[i] += 1
    res = cfg.resolution
    target = (0.0, -0.1, 0.0)
    cams: list[Camera] = []
    for r, (el, cnt) in enumerate(zip(rings, counts)):
        for k in range(cnt):
            az = 360.0 * k / cnt + 37.0 * r
            cams.append(orbit_camera(az, el, cfg.radius, target=target, fov_deg=cfg.fov_deg,
                                     width=res, height=res))
    for k in range(n_test):
        el = (5.0, 35.0)[k % 2]
        az = 360.0 * k / max(n_test, 1) + 180.0 / max(counts[0], 1) + 11.0
        cams.append(orbit_camera(az, el, cfg.radius, target=target, fov_deg=cfg.fov_deg,
                                 width=res, height=res))
    cams = [c.renamed(f"cam{i:02d}") for i, c in enumerate(cams)]
    return cams, list(range(n_train, cfg.views))


def render_frame(
    scene: SyntheticScene,
    cfg: SynthConfig,
    cameras: list[Camera],
    frame: int,
    device: torch.device | str = "cpu",
    workers: int | None = None,
) -> np.ndarray:
    """Ground truth of `frame` for every camera: (V,H,W,4) float32, straight alpha.

    On CPU the rays are split over `workers` Python threads (default: torch's thread count),
    each running single-threaded torch ops: the marcher issues many small ops, on which
    intra-op threads mostly wait at barriers (badly so on a busy machine).
    """
    device = torch.device(device)
    renderer = FrameRenderer(scene, cfg, frame / cfg.fps, device)
    rays = [c.rays(device=device) for c in cameras]
    o = torch.cat([r[0] for r in rays])
    d = torch.cat([r[1] for r in rays])
    if workers is None:
        workers = torch.get_num_threads() if device.type == "cpu" else 1
    if workers <= 1:
        rgba = renderer.render(o, d)
    else:
        # Interleaved rays balance the load (the figure fills the middle of each image).
        parts = [torch.arange(k, o.shape[0], workers, device=device) for k in range(workers)]
        threads_before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(lambda ix: renderer.render(o[ix], d[ix]), parts))
        finally:
            torch.set_num_threads(threads_before)
        rgba = torch.empty(o.shape[0], 4, device=device)
        for ix, part in zip(parts, done):
            rgba[ix] = part
    rgba = rgba.cpu().numpy()
    out, start = [], 0
    for c in cameras:
        out.append(rgba[start : start + c.width * c.height].reshape(c.height, c.width, 4))
        start += c.width * c.height
    return np.stack(out)


# ------------------------------------------------------------------------------ writing
@dataclass
class SynthResult:
    root: Path
    contact_sheet: Path
    cameras: list[Camera]
    test_views: list[int]
    seconds: float


def validate_config(cfg: SynthConfig) -> None:
    """Raise FieldCastError for settings that cannot make a dataset."""
    if cfg.frames < 1:
        raise FieldCastError(f"--frames must be at least 1, got {cfg.frames}")
    if cfg.views < 1:
        raise FieldCastError(f"--views must be at least 1, got {cfg.views}")
    if not 0 <= cfg.test_views < cfg.views:
        raise FieldCastError(
            f"--test-views must be between 0 and views-1 ({cfg.views - 1}), got {cfg.test_views}"
        )
    if not 8 <= cfg.resolution <= 4096:
        raise FieldCastError(f"--res must be between 8 and 4096 pixels, got {cfg.resolution}")
    if not cfg.fps > 0:
        raise FieldCastError(f"--fps must be positive, got {cfg.fps}")


def _prepare_output(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise FieldCastError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()):
        if not (root / TRANSFORMS).is_file():
            raise FieldCastError(
                f"{root} is not empty and holds no {TRANSFORMS}; choose a new or empty directory"
            )
        # Regenerating over an earlier dataset: drop its images so no stale view survives.
        shutil.rmtree(root / "images", ignore_errors=True)
        (root / TRANSFORMS).unlink()
        (root / CONTACT_SHEET).unlink(missing_ok=True)


CONTACT_SHEET = "contact_sheet.png"


def _sheet_views(cfg: SynthConfig, test_views: list[int]) -> list[int]:
    train = [v for v in range(cfg.views) if v not in test_views]
    picks = [train[int(round(i * (len(train) - 1) / 4))] for i in range(min(5, len(train)))]
    picks = list(dict.fromkeys(picks))
    return picks + test_views[:2]


def _sheet_frames(frames: int) -> list[int]:
    return sorted({int(round(i * (frames - 1) / 4)) for i in range(min(5, frames))})


def write_contact_sheet(
    path: Path,
    tiles: dict[tuple[int, int], np.ndarray],
    frames: list[int],
    views: list[int],
    names: list[str],
    test_views: list[int],
    background: tuple[float, float, float],
) -> None:
    """A grid (rows = frames, columns = views) of RGBA tiles composited over `background`."""
    from PIL import Image, ImageDraw  # imageio's own dependency

    h, w = next(iter(tiles.values())).shape[:2]
    gap, head, left = 4, 16, 34
    sheet = Image.new("RGB", (left + len(views) * (w + gap), head + len(frames) * (h + gap)), (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    bg = np.asarray(background, dtype=np.float32)
    for c, v in enumerate(views):
        x = left + c * (w + gap)
        label = names[v] + (" test" if v in test_views else "")
        draw.text((x + 2, 2), label, fill=(200, 80, 0) if v in test_views else (40, 40, 40))
        for r, f in enumerate(frames):
            rgba = tiles[(f, v)].astype(np.float32) / 255.0
            rgb = rgba[..., :3] * rgba[..., 3:] + bg * (1 - rgba[..., 3:])
            sheet.paste(Image.fromarray(to_uint8(rgb)), (x, head + r * (h + gap)))
    for r, f in enumerate(frames):
        draw.text((2, head + r * (h + gap) + h // 2 - 5), f"f{f}", fill=(40, 40, 40))
    sheet.save(path)


def generate(
    out: str | Path,
    cfg: SynthConfig,
    *,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> SynthResult:
    """Render the scene for every frame and camera and write the dataset plus a contact sheet."""
    validate_config(cfg)
    start = time.perf_counter()
    root = Path(out)
    _prepare_output(root)
    scene = SyntheticScene(cfg.seed, cfg.blend)
    cameras, test_views = dome_cameras(cfg)
    meta = {
        "generator": {
            "name": "fieldcast synth",
            "frames": cfg.frames,
            "views": cfg.views,
            "test_views": cfg.test_views,
            "resolution": cfg.resolution,
            "seed": cfg.seed,
            "eps": cfg.eps,
            "sigma_max": cfg.sigma_max,
            "step": cfg.step,
        }
    }
    writer = DatasetWriter(
        root, cameras, test_views=test_views, fps=cfg.fps, aabb=np.array(cfg.aabb),
        background=cfg.background, extra=meta,
    )
    sheet_frames, sheet_views = _sheet_frames(cfg.frames), _sheet_views(cfg, test_views)
    tiles: dict[tuple[int, int], np.ndarray] = {}
    for frame in tqdm(range(cfg.frames), desc="synth", unit="frame", disable=not progress):
        images = to_uint8(render_frame(scene, cfg, cameras, frame, device))
        writer.add_frame(frame, images)
        if frame in sheet_frames:
            for v in sheet_views:
                tiles[(frame, v)] = images[v]
    writer.close()
    sheet = root / CONTACT_SHEET
    write_contact_sheet(
        sheet, tiles, sheet_frames, sheet_views, [c.name for c in cameras], test_views, cfg.background
    )
    return SynthResult(root, sheet, cameras, test_views, time.perf_counter() - start)
