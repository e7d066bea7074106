"""A dataset whose every pair fails opens and settles quickly: each failure is that image's, reported once."""
import numpy as np

from helpers import save_label, settle


def test_two_thousand_failing_pairs_open_and_settle(qtbot, window, tmp_path):
    root = tmp_path / "bad"
    (root / "logits").mkdir(parents=True)
    save_label(root / "gt" / "img00000.png", np.zeros((4, 4)))
    for i in range(1, 2000):
        (root / "gt" / f"img{i:05d}.png").write_bytes(b"\x89PNG broken")
    for i in range(2000):
        (root / "logits" / f"img{i:05d}.npy").write_bytes(b"not an array")
    (root / "classes.json").write_text('{"classes": [{"name": "a"}, {"name": "b"}]}')
    assert window.actions_.open_folder(root)
    settle(qtbot, window, timeout=60000)
    v = window.viewer
    assert len(v.failures) == 2000
    assert all(r[0].value.startswith("⚠") for r in window.image_list.model.rows)
    assert "img00000.npy" in v.failures[0] and window.isVisible()
