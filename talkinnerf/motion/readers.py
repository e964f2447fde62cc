"""One reader per motion layout (AMASS SMPL-X / SMPL+H, TalkSHOW, our fits; EasyMocap in easymocap.py) and
layout detection.

Readers only slice the source into our keys and note every change they make (``Motion.conversions``); they
do not resample or change the world axes (convert.py does). Slices are documented in docs/motion.md.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from talkinnerf.motion.format import ARRAY_SHAPES, EXPRESSION_SIZE, Motion, neutral_arrays, validate

LAYOUTS = ("amass-smplx", "amass-smplh", "talkshow", "easymocap", "ours")
LAYOUT_HELP = {
    "amass-smplx": "AMASS SMPL-X *_stageii.npz: poses (T,165) or root_orient/pose_body/pose_hand/pose_jaw/"
                   "pose_eye, trans (T,3), mocap_frame_rate",
    "amass-smplh": "AMASS SMPL+H .npz: poses (T,156), trans (T,3), mocap_framerate",
    "talkshow": "TalkSHOW output .npy (T,265) at 30 fps",
    "easymocap": "EasyMocap folder of per-frame *.json with Rh, Th, poses (66/72/156/165 values), expression",
    "ours": "our fits results/smplx/<s>.npz or our motion format: global_orient + body_pose (or poses_body), "
            "jaw_pose, hands, expression, transl",
}
TALKSHOW_FPS = 30.0   # TalkSHOW generates at 30 fps; its .npy does not say so


@dataclass
class ReadOptions:
    """What a reader cannot learn from the file itself."""

    source_fps: float = 0.0          # > 0: the source's frame rate, overriding the file's
    default_fps: float = 30.0        # assumed where neither the file nor source_fps gives a rate
    hand_mean: tuple[np.ndarray, np.ndarray] | None = None   # SMPL-X hands_meanl, hands_meanr (45,) each
    hand_mean_source: str = ""       # the model file they came from (named in the conversion note)
    pelvis: np.ndarray | None = None  # EasyMocap: rest position (3,) of the fitted body's pelvis joint, metres


# ---------------------------------------------------------------------------------------------- loading

def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a .npz (pickled entries skipped, never loaded) or of a .npy (under key '')."""
    from talkinnerf.failures import describe, marker_of

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"motion {path} does not exist")
    record = marker_of(path)
    if record is not None:
        raise ValueError(f"motion {path} is a failure marker, not a motion: {describe(record)}")
    try:
        if path.suffix.lower() == ".npy":
            return {"": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as data:
            out = {}
            for key in data.files:
                try:
                    out[key] = data[key]
                except ValueError:   # an object array (metadata of some exports): reading it would unpickle
                    continue
            return out
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"motion {path}: not a readable {path.suffix} file ({err})") from err


def summarize(arrays: dict[str, object]) -> str:
    """'key (shape), ...' of what a file holds, for error messages."""
    def shape(value: object) -> str:
        try:
            return str(tuple(np.shape(value)))
        except ValueError:   # a ragged list (EasyMocap JSON)
            return "(ragged)"

    return ", ".join(f"{k or 'array'} {shape(v)}" for k, v in sorted(arrays.items())) or "nothing"


def per_frame(arrays: dict[str, np.ndarray], key: str, path: str | Path, size: int | None = None) -> np.ndarray:
    """arrays[key] as float64 (T, size); (T, a, b) with a*b = size is flattened. Missing or misshapen: error."""
    if key not in arrays:
        raise ValueError(f"motion {path}: no '{key}' array (found: {summarize(arrays)})")
    a = np.asarray(arrays[key])
    if a.ndim >= 2 and a.dtype.kind in "fiu":
        flat = a.reshape(a.shape[0], int(np.prod(a.shape[1:]))).astype(np.float64)
        if size is None or flat.shape[1] == size:
            return flat
    want = f"(frames, {size})" if size is not None else "(frames, values)"
    raise ValueError(f"motion {path}: '{key}' has shape {a.shape} ({a.dtype}), expected {want}")


MAX_PCA = 24   # hand PCA sizes in use (SMPLify-X, EasyMocap, AMASS tools) are 6, 12 and up to 24 per hand


def pca_components(width: int, body: int) -> int | None:
    """Hand PCA components per hand if ``width`` = body + 2k (+ 9 head values) with 0 < k <= MAX_PCA, else None."""
    for extra in (0, 9):
        rest = width - body - extra
        if rest % 2 == 0 and 0 < rest // 2 <= MAX_PCA:
            return rest // 2
    return None


def hand_pca_error(path: str | Path, per_hand: int) -> ValueError:
    """The error for hand poses given as PCA coefficients (we have no PCA basis: never fill in zeros)."""
    return ValueError(f"motion {path}: the hand poses are {per_hand} PCA coefficients per hand, not 45 axis-angle "
                      "values; turning them into finger rotations needs the hand PCA basis (hands_components of the "
                      "MANO / SMPL-X model), which this project does not have. Export full hand poses "
                      "(use_pca=False, 45 values per hand) from the tool that made the motion")


def fit_expression(expression: np.ndarray | None, frames: int, notes: list[str]) -> np.ndarray:
    """Expression as (T,10): longer ones cut, shorter ones zero-padded, none: zeros (each noted)."""
    if expression is None:
        notes.append("expression: none in the source: neutral (zeros)")
        return np.zeros((frames, EXPRESSION_SIZE))
    n = expression.shape[1]
    if n > EXPRESSION_SIZE:
        # SMPL-X expression components are ordered by importance: the first 10 are the 10-coefficient model's
        notes.append(f"expression {n} -> {EXPRESSION_SIZE} coefficients: cut")
        return expression[:, :EXPRESSION_SIZE]
    if n < EXPRESSION_SIZE:
        notes.append(f"expression {n} -> {EXPRESSION_SIZE} coefficients: zero-padded")
        return np.pad(expression, ((0, 0), (0, EXPRESSION_SIZE - n)))
    return expression


def resolve_fps(opts: ReadOptions, in_file: float | None, notes: list[str], missing: str = "") -> float:
    """The source's frame rate: --source-fps, else the file's, else the default (noted with ``missing``)."""
    if opts.source_fps > 0:
        if in_file and in_file != opts.source_fps:
            notes.append(f"source fps {in_file:g} of the file overridden: {opts.source_fps:g}")
        return float(opts.source_fps)
    if in_file:
        return float(in_file)
    notes.append(missing or f"source fps: not in the source, {opts.default_fps:g} assumed (set --source-fps)")
    return float(opts.default_fps)


def add_hand_mean(parts: dict[str, np.ndarray], opts: ReadOptions, who: str, notes: list[str]) -> None:
    """Hands given relative to the SMPL-X mean hand -> relative to the flat hand (ours), where we have the mean."""
    if opts.hand_mean is None:
        notes.append(f"hands: {who} poses are relative to the SMPL-X mean hand; no hand-mean model given "
                     "(--hand-mean SMPLX_NEUTRAL.npz): kept as they are, so fingers come out straighter than in "
                     "the source")
        return
    left, right = opts.hand_mean
    # smplx adds the mean to the axis-angle vector itself (not a rotation product), so adding it here is exact
    parts["left_hand_pose"] = parts["left_hand_pose"] + left
    parts["right_hand_pose"] = parts["right_hand_pose"] + right
    notes.append(f"hands: {who} poses are relative to the SMPL-X mean hand: hands_meanl/r of "
                 f"{opts.hand_mean_source or 'the given model'} added (now relative to the flat hand)")


def build_motion(parts: dict[str, np.ndarray], frames: int, fps: float, layout: str, path: str | Path,
                 notes: list[str]) -> Motion:
    """A Motion from flat per-frame parts (missing keys neutral), validated against ``path``."""
    arrays = neutral_arrays(frames)
    for key, value in parts.items():
        arrays[key] = np.asarray(value, np.float64).reshape((len(value), *ARRAY_SHAPES[key]))
    motion = Motion(**arrays, fps=fps, source_format=layout, source_file=str(path), source_fps=fps,
                    conversions=notes)
    validate(motion, path)
    return motion


def _fps_key(arrays: dict[str, np.ndarray], *keys: str) -> float | None:
    for key in keys:
        if key in arrays and np.size(arrays[key]) == 1:
            return float(np.asarray(arrays[key]).reshape(-1)[0])
    return None


def _translation(arrays: dict[str, np.ndarray], key: str, path: str | Path, frames: int,
                 notes: list[str]) -> np.ndarray:
    if key in arrays:
        return per_frame(arrays, key, path, 3)
    notes.append("translation: none in the source: zeros")
    return np.zeros((frames, 3))


# ---------------------------------------------------------------------------------------------- AMASS

def read_amass_smplx(path: str | Path, opts: ReadOptions) -> Motion:
    """AMASS SMPL-X (MoSh++ stage II): ``poses`` (T,165) or the split keys; hands already flat-relative."""
    arrays, notes = load_arrays(path), []
    if "poses" in arrays:
        poses = per_frame(arrays, "poses", path)
        if poses.shape[1] != 165:
            k = pca_components(poses.shape[1], 66)
            if k is not None and poses.shape[1] % 2 == 1:
                raise hand_pca_error(path, k)
            raise ValueError(f"motion {path}: 'poses' has {poses.shape[1]} values per frame; AMASS SMPL-X has "
                             "165 (global 3, body 63, jaw 3, eyes 6, hands 90)")
        parts = {"global_orient": poses[:, 0:3], "body_pose": poses[:, 3:66], "jaw_pose": poses[:, 66:69],
                 "leye_pose": poses[:, 69:72], "reye_pose": poses[:, 72:75],
                 "left_hand_pose": poses[:, 75:120], "right_hand_pose": poses[:, 120:165]}
    else:
        parts = {"global_orient": per_frame(arrays, "root_orient", path, 3),
                 "body_pose": per_frame(arrays, "pose_body", path, 63)}
        if "pose_hand" in arrays:
            hands = per_frame(arrays, "pose_hand", path)
            if hands.shape[1] != 90:
                if 0 < hands.shape[1] < 90 and hands.shape[1] % 2 == 0:
                    raise hand_pca_error(path, hands.shape[1] // 2)
                raise ValueError(f"motion {path}: 'pose_hand' has {hands.shape[1]} values per frame, expected 90")
            parts["left_hand_pose"], parts["right_hand_pose"] = hands[:, :45], hands[:, 45:]
        else:
            notes.append("hands: no pose_hand in the source: flat")
        if "pose_jaw" in arrays:
            parts["jaw_pose"] = per_frame(arrays, "pose_jaw", path, 3)
        else:
            notes.append("jaw: no pose_jaw in the source: closed (zeros)")
        if "pose_eye" in arrays:
            eyes = per_frame(arrays, "pose_eye", path, 6)
            parts["leye_pose"], parts["reye_pose"] = eyes[:, :3], eyes[:, 3:]
        else:
            notes.append("eyes: no pose_eye in the source: neutral (zeros)")
    frames = len(parts["global_orient"])
    parts["transl"] = _translation(arrays, "trans", path, frames, notes)
    expression = per_frame(arrays, "expression", path) if "expression" in arrays else None
    parts["expression"] = fit_expression(expression, frames, notes)
    fps = resolve_fps(opts, _fps_key(arrays, "mocap_frame_rate", "mocap_framerate"), notes)
    return build_motion(parts, frames, fps, "amass-smplx", path, notes)


def read_amass_smplh(path: str | Path, opts: ReadOptions) -> Motion:
    """AMASS SMPL+H: ``poses`` (T,156) = global, body, left hand, right hand; no face."""
    arrays, notes = load_arrays(path), []
    poses = per_frame(arrays, "poses", path)
    if poses.shape[1] != 156:
        k = pca_components(poses.shape[1], 66)
        if k is not None and poses.shape[1] % 2 == 0 and poses.shape[1] != 72:
            raise hand_pca_error(path, k)
        raise ValueError(f"motion {path}: 'poses' has {poses.shape[1]} values per frame; AMASS SMPL+H has 156 "
                         "(global 3, body 63, hands 90)")
    parts = {"global_orient": poses[:, 0:3], "body_pose": poses[:, 3:66],
             "left_hand_pose": poses[:, 66:111], "right_hand_pose": poses[:, 111:156]}
    notes.append("face: SMPL+H has no jaw, eyes or expression: neutral (zeros)")
    frames = len(poses)
    parts["transl"] = _translation(arrays, "trans", path, frames, notes)
    parts["expression"] = np.zeros((frames, EXPRESSION_SIZE))
    if "dmpls" in arrays:
        notes.append("dmpls (soft-tissue coefficients): dropped, our body model has none")
    fps = resolve_fps(opts, _fps_key(arrays, "mocap_framerate", "mocap_frame_rate"), notes)
    return build_motion(parts, frames, fps, "amass-smplh", path, notes)


# ---------------------------------------------------------------------------------------------- TalkSHOW

def read_talkshow(path: str | Path, opts: ReadOptions) -> Motion:
    """TalkSHOW .npy (T,265): jaw, leye, reye, global, body, hands (mean-relative), expression (100)."""
    arrays, notes = load_arrays(path), []
    if "" not in arrays:
        raise ValueError(f"motion {path}: a TalkSHOW motion is a .npy array (frames, 265), this is an .npz "
                         f"(found: {summarize(arrays)})")
    data = arrays[""]
    if data.ndim == 3 and data.shape[-1] == 265 and len(data) > 0:
        notes.append(f"{len(data)} samples in the file: took the first")
        data = data[0]
    if data.ndim != 2 or data.shape[1] != 265 or data.dtype.kind not in "fiu":
        raise ValueError(f"motion {path}: a TalkSHOW .npy is (frames, 265), this one is {data.shape} ({data.dtype})")
    d = data.astype(np.float64)
    parts = {"jaw_pose": d[:, 0:3], "leye_pose": d[:, 3:6], "reye_pose": d[:, 6:9], "global_orient": d[:, 9:12],
             "body_pose": d[:, 12:75], "left_hand_pose": d[:, 75:120], "right_hand_pose": d[:, 120:165]}
    add_hand_mean(parts, opts, "TalkSHOW (smplx flat_hand_mean=False)", notes)
    frames = len(d)
    parts["expression"] = fit_expression(d[:, 165:265], frames, notes)
    parts["transl"] = np.zeros((frames, 3))
    notes.append("translation: TalkSHOW has none: zeros")
    fps = resolve_fps(opts, TALKSHOW_FPS, notes)
    return build_motion(parts, frames, fps, "talkshow", path, notes)


# ---------------------------------------------------------------------------------------------- ours

def frames_meta_path(path: str | Path) -> Path:
    """results/smplx/<s>.npz -> results/frames/<s>/meta.json (where the subject's fps is)."""
    path = Path(path)
    return path.parent.parent / "frames" / path.stem / "meta.json"


def read_ours(path: str | Path, opts: ReadOptions) -> Motion:
    """Our fits (results/smplx/<s>.npz) or our motion format: already our conventions, keys renamed only."""
    from talkinnerf.io import read_json

    arrays, notes = load_arrays(path), []
    if "poses_body" in arrays:
        body = per_frame(arrays, "poses_body", path, 66)
        parts = {"global_orient": body[:, :3], "body_pose": body[:, 3:]}
    elif "global_orient" in arrays and "body_pose" in arrays:
        parts = {"global_orient": per_frame(arrays, "global_orient", path, 3),
                 "body_pose": per_frame(arrays, "body_pose", path, 63)}
    else:
        raise ValueError(f"motion {path}: needs 'poses_body' or 'global_orient' + 'body_pose' "
                         f"(found: {summarize(arrays)})")
    frames = len(parts["global_orient"])
    for key in ("jaw_pose", "leye_pose", "reye_pose"):
        if key in arrays:
            parts[key] = per_frame(arrays, key, path, 3)
    missing = [k for k in ("jaw_pose", "leye_pose", "reye_pose") if k not in arrays]
    if missing:
        notes.append(f"{', '.join(missing)}: not in the source: neutral (zeros)")
    if "left_hand_pose" in arrays and "right_hand_pose" in arrays:
        parts["left_hand_pose"] = per_frame(arrays, "left_hand_pose", path, 45)
        parts["right_hand_pose"] = per_frame(arrays, "right_hand_pose", path, 45)
    elif "hands" in arrays:
        hands = per_frame(arrays, "hands", path, 90)
        parts["left_hand_pose"], parts["right_hand_pose"] = hands[:, :45], hands[:, 45:]
    else:
        notes.append("hands: none in the source: flat")
    expression = per_frame(arrays, "expression", path) if "expression" in arrays else None
    parts["expression"] = fit_expression(expression, frames, notes)
    parts["transl"] = _translation(arrays, "transl", path, frames, notes)
    in_file = _fps_key(arrays, "fps")
    if in_file is not None:   # our motion format: carry its history
        side = Path(path).with_suffix(".json")
        if side.is_file():
            meta = read_json(side)
            notes[:0] = [f"earlier ({meta.get('source_format', '?')}): {c}" for c in meta.get("conversions", [])]
    elif frames_meta_path(path).is_file():
        in_file = read_json(frames_meta_path(path)).get("fps")
    return build_motion(parts, frames, resolve_fps(opts, in_file, notes), "ours", path, notes)


# ---------------------------------------------------------------------------------------------- detection

def unknown_layout(path: str | Path, found: str) -> ValueError:
    """The error for a file no reader takes: what it holds and what we read."""
    supported = "; ".join(f"{k}: {v}" for k, v in LAYOUT_HELP.items())
    return ValueError(f"motion {path}: unknown motion layout (found: {found}); supported layouts: {supported}")


def detect_layout(path: str | Path) -> str:
    """The layout of a motion file or folder, from its suffix and its keys / shapes."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"motion {path} does not exist")
    if path.is_dir():
        if any(path.glob("*.json")):
            return "easymocap"
        raise unknown_layout(path, "a folder without *.json files")
    suffix = path.suffix.lower()
    if suffix == ".json":
        raise ValueError(f"motion {path}: a single .json; an EasyMocap motion is the folder of per-frame .json "
                         "files: pass the folder")
    if suffix not in (".npz", ".npy"):
        raise unknown_layout(path, f"a {suffix or 'suffix-less'} file (motions are .npz, .npy or a folder)")
    arrays = load_arrays(path)
    if suffix == ".npy":
        data = arrays[""]
        if data.ndim in (2, 3) and data.shape[-1] == 265:
            return "talkshow"
        raise unknown_layout(path, f"an array {data.shape}")
    poses = arrays.get("poses")
    if poses is not None and np.ndim(poses) == 2:
        width = poses.shape[1]
        if width == 165:
            return "amass-smplx"
        if width == 156:
            return "amass-smplh"
        k = pca_components(width, 66)
        if k is not None and width != 72:   # 72 is SMPL's 24 joints, not SMPL+H with PCA hands
            raise hand_pca_error(path, k)
    if "root_orient" in arrays and "pose_body" in arrays:
        return "amass-smplx"
    if "poses_body" in arrays or ("global_orient" in arrays and "body_pose" in arrays):
        return "ours"
    raise unknown_layout(path, summarize(arrays))


def readers() -> dict[str, Callable[[str | Path, ReadOptions], Motion]]:
    """Layout name -> reader."""
    from talkinnerf.motion.easymocap import read_easymocap

    return {"amass-smplx": read_amass_smplx, "amass-smplh": read_amass_smplh, "talkshow": read_talkshow,
            "easymocap": read_easymocap, "ours": read_ours}


def read_motion(path: str | Path, layout: str = "auto", opts: ReadOptions | None = None) -> Motion:
    """Read ``path`` in ``layout`` ('auto': detected) into a validated Motion at the source's own rate."""
    if layout == "auto":
        layout = detect_layout(path)
    table = readers()
    if layout not in table:
        raise ValueError(f"unknown layout {layout!r}; known: auto, {', '.join(LAYOUTS)}")
    if not Path(path).exists():
        raise FileNotFoundError(f"motion {path} does not exist")
    return table[layout](path, opts or ReadOptions())
