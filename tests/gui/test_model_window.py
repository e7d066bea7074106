"""A model as the window's prediction source: run per image on demand by the engine; a broken one leaves the window up."""
import torch

import segviewer
from core.test_model_source import TinySeg, make_images
from helpers import settle
from segviewer.cli import build_gui_parser
from segviewer.cli.model import model_engine


def window_args(root, model_file, *extra):
    return build_gui_parser().parse_args(["--gt", str(root / "gt"), "--images", str(root / "images"), "--model",
                                          str(model_file), "--device", "cpu", *extra])


def test_window_runs_the_model_per_image_and_equals_the_api(qtbot, window, tmp_path):
    root = make_images(tmp_path / "d")
    model = torch.jit.script(TinySeg())
    model.save(str(tmp_path / "m.pt"))
    engine = model_engine(window_args(root, tmp_path / "m.pt", "--normalize", "none"))()
    assert window.viewer.open_engine(engine)
    settle(qtbot, window)
    with segviewer.open(gt=root / "gt", images=root / "images", model=model, device="cpu") as ins:
        shown = window.viewer.dataset_counts
        want = ins.dataset_scores()
        assert shown.tp.tolist() == want["tp"].tolist() and shown.fn.tolist() == want["fn"].tolist()


def test_broken_model_file_is_one_message_and_the_window_stays_up(qtbot, window, tmp_path):
    from segviewer.gui.guard import guarded
    root = make_images(tmp_path / "d", n=1)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    build = model_engine(window_args(root, tmp_path / "junk.pt"))
    messages = []
    assert guarded(messages.append, "Open model", lambda: window.viewer.open_engine(build()))() is None
    assert len(messages) == 1 and "not a TorchScript model" in messages[0] and "\n" not in messages[0]
    assert window.isVisible()
