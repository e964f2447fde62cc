"""Write one of our fits in every published motion layout, so every reader of `talkinnerf motion convert` can be
tried without outside data (issue 19):

    .venv/bin/python scripts/motion_layouts.py results/smplx/ben.npz OUT_DIR [--wav AUDIO]

writes OUT_DIR/<stem>_amass_stageii.npz (AMASS SMPL-X), <stem>_amass_smplh.npz (AMASS SMPL+H: no face),
<stem>_talkshow.npy (TalkSHOW, 30 fps, no translation), <stem>_easymocap/ (EasyMocap per-frame JSON, resampled to
30 fps: the rate `motion convert` assumes for EasyMocap), and with --wav a copy of AUDIO beside each as
<name>.wav (the audio `motion convert` finds). Each converts back with `talkinnerf motion convert FILE OUT.npz`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from talkinnerf.motion.convert import ConvertOptions, prepare_motion
from talkinnerf.motion.writers import write_layout

# layout, output name after the stem, rate to write at (0: the fit's own)
OUTPUTS = (("amass-smplx", "_amass_stageii.npz", 0.0), ("amass-smplh", "_amass_smplh.npz", 0.0),
           ("talkshow", "_talkshow.npy", 30.0), ("easymocap", "_easymocap", 30.0))


def write_all(fit: Path, out_dir: Path, wav: Path | None = None) -> list[Path]:
    """Every layout of ``fit`` (read by the 'ours' reader) in ``out_dir``; returns the written paths."""
    if wav is not None and not wav.is_file():
        raise FileNotFoundError(f"audio {wav} does not exist")
    motion = prepare_motion(fit, ConvertOptions(fps=0, layout="ours", check_audio=False))
    print(f"{fit}: {motion.frames} frames at {motion.fps:g} fps")
    written = []
    for layout, name, fps in OUTPUTS:
        path = out_dir / f"{fit.stem}{name}"
        notes: list[str] = []
        write_layout(motion, layout, path, fps=fps, notes=notes)
        written.append(path)
        print(f"wrote {path} ({layout})")
        for note in notes:
            print(f"  {note}")
        if wav is not None:
            audio = out_dir / f"{path.stem if path.suffix else path.name}.wav"
            shutil.copyfile(wav, audio)
            print(f"  audio: {audio}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit", type=Path, help="one of our fits, results/smplx/<s>.npz (or our motion format)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--wav", type=Path, default=None, help="audio copied beside each output as <name>.wav")
    args = parser.parse_args(argv)
    try:
        write_all(args.fit, args.out_dir, args.wav)
    except (FileNotFoundError, ValueError) as err:
        print(f"motion_layouts: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
