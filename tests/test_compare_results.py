"""scripts/compare_results.py: two runs' results folders compared file by file, timings left out."""

import importlib.util
import json

import numpy as np
from PIL import Image

from workflow_utils import REPO

spec = importlib.util.spec_from_file_location("compare_results", REPO / "scripts" / "compare_results.py")
compare_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_results)


def _write(root, metrics_psnr: float, seconds: float, pixel: int, caption: str = "PSNR 27.10 dB"):
    (root / "eval").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "eval" / "summary.json").write_text(json.dumps({"psnr": metrics_psnr, "seconds": seconds,
                                                            "frames": [1, 2]}))
    (root / "eval" / "metrics.csv").write_text(f"frame,psnr,seconds\n1,{metrics_psnr},{seconds}\n")
    (root / "eval" / "table.md").write_text(caption + "\n")
    image = np.zeros((4, 4, 3), np.uint8)
    image[0, 0] = pixel
    Image.fromarray(image).save(root / "eval" / "grid.png")
    (root / "logs" / "train.log").write_text(f"took {seconds} s\n")
    (root / "same.txt").write_text("x\n")


def test_timings_ignored_numbers_within_tolerance_text_changes_apart(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a, 27.1, 10.0, 7)
    _write(b, 27.1 + 3e-6, 55.0, 7)
    assert compare_results.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "5 files in both: 3 byte for byte, 2 equal within 0.0001" in out    # logs/ left out

    diffs = compare_results.compare(a, b, ("logs",))["diffs"]
    assert diffs["eval/summary.json"] == diffs["eval/metrics.csv"] > 0      # the seconds did not count
    (b / "eval" / "table.md").write_text("PSNR 27.30 dB\n")
    (b / "eval" / "grid.png").unlink()
    Image.fromarray(np.full((4, 4, 3), 9, np.uint8)).save(b / "eval" / "grid.png")
    (b / "extra.json").write_text("{}")
    assert compare_results.main([str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "apart: eval/table.md: 0.2" in out and "apart: eval/grid.png" in out
    assert "only in B: extra.json" in out
    (b / "eval" / "table.md").write_text("SSIM 27.10 dB\n")
    assert compare_results.file_difference(a / "eval" / "table.md", b / "eval" / "table.md") == float("inf")


def test_tables_leave_out_their_timing_columns_only(tmp_path):
    def table(wall: float, psnr: float) -> str:
        return ("caption\n\n| method | wall s | PSNR |\n|---|---|---|\n"
                f"| multi | {wall} | {psnr} |\n\n\\begin{{tabular}}{{lcc}}\n\\toprule\nMethod & wall s & PSNR \\\\\n"
                f"\\midrule\nmulti & {wall} & {psnr} \\\\\n\\end{{tabular}}\n")

    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text(table(8.0, 20.43))
    b.write_text(table(34.0, 20.43))
    assert compare_results.file_difference(a, b) == 0.0                  # the wall seconds differ, nothing else
    b.write_text(table(34.0, 20.46))
    assert abs(compare_results.file_difference(a, b) - 0.03) < 1e-9
