"""A model as the prediction source: counts equal those of the same logits saved to disk; clear errors."""
import numpy as np
import pytest
import torch
from helpers import run_cli, save_label
from PIL import Image

import segviewer
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.passes import counts_pass
from segviewer.core.errors import LoadError
from segviewer.core.model_source import InputTransform, load_model_file

C = 3


class TinySeg(torch.nn.Module):
    """A stride-2 1x1 convolution: logits at half the input's resolution."""

    def __init__(self, classes=C):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, classes, 1, stride=2)
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            self.conv.weight.copy_(torch.randn(classes, 3, 1, 1, generator=g) * 4)
            self.conv.bias.copy_(torch.randn(classes, generator=g))

    def forward(self, x):
        return self.conv(x)


class Broken(torch.nn.Module):
    def forward(self, x):
        return x.view(7, -1)   # fails on any image


def make_images(root, n=3, size=(12, 16)):
    g = np.random.default_rng(0)
    for i in range(n):
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(g.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / "images" / f"im{i}.png")
        labels = g.integers(0, C, size)
        labels[g.random(size) < 0.1] = 255
        save_label(root / "gt" / f"im{i}.png", labels)
    return root


def saved_logits(root, model, transform=None):
    """The model's logits for every image written with save_logits, as a user would."""
    folder = root / "saved"
    for path in sorted((root / "images").glob("*.png")):
        x = torch.from_numpy(np.asarray(Image.open(path))).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            segviewer.save_logits(folder, path.stem, model(transform(x) if transform else x))
    return folder


def test_scripted_model_counts_equal_saved_logits(tmp_path):
    root = make_images(tmp_path / "d")
    scripted = torch.jit.script(TinySeg())
    ins = segviewer.open(gt=root / "gt", images=root / "images", model=scripted, device="cpu")
    reference = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=saved_logits(root, scripted), device="cpu"))
    direct = counts_pass(reference, segviewer.Scoring(threshold=0.5))
    counts = ins.dataset_counts()
    assert counts.total.tp.tolist() == direct.total.tp.tolist()
    assert counts.total.fp.tolist() == direct.total.fp.tolist()
    assert torch.equal(ins.load(1).sample.probs, reference.load(1).probs)   # so the overlays are equal too
    # the cache is an ordinary logits folder: the window's plain Dataset on it gives the same numbers
    cached = counts_pass(Dataset(ins.dataset.options), segviewer.Scoring(threshold=0.5))
    assert cached.total.fn.tolist() == direct.total.fn.tolist()


def test_cache_is_reused_for_the_same_module(tmp_path):
    root = make_images(tmp_path / "d", n=2)
    model, calls = TinySeg(), []
    model.register_forward_hook(lambda *a: calls.append(1))
    segviewer.open(gt=root / "gt", images=root / "images", model=model, device="cpu").index()
    assert len(calls) == 2
    segviewer.open(gt=root / "gt", images=root / "images", model=model, device="cpu").index()
    assert len(calls) == 2


def test_cli_model_with_normalize_and_input_size_equals_saved_logits(tmp_path):
    root = make_images(tmp_path / "d")
    model = torch.jit.script(TinySeg())
    model.save(str(tmp_path / "m.pt"))
    transform = InputTransform("imagenet", (8, 8))
    folder = saved_logits(root, model, transform)
    common = ["--gt", root / "gt", "--device", "cpu", "--argmax"]
    r = run_cli("export", *common, "--images", root / "images", "--model", tmp_path / "m.pt",
                "--normalize", "imagenet", "--input-size", "8x8", "--out", tmp_path / "model.csv")
    assert r.returncode == 0, r.stderr
    r = run_cli("export", *common, "--logits", folder, "--out", tmp_path / "saved.csv")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "model.csv").read_text() == (tmp_path / "saved.csv").read_text()


def test_broken_models_give_clear_errors(tmp_path):
    root = make_images(tmp_path / "d", n=1)
    with pytest.raises(LoadError, match="the model failed on this image: RuntimeError"):
        segviewer.open(gt=root / "gt", images=root / "images", model=Broken(), device="cpu")
    with pytest.raises(LoadError, match="channels"):
        segviewer.open(gt=root / "gt", images=root / "images", model=TinySeg(), classes="voc", device="cpu").load(0)
    with pytest.raises(segviewer.OptionError, match="images="):
        segviewer.open(gt=root / "gt", model=TinySeg())
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(LoadError, match="not a TorchScript model"):
        load_model_file(tmp_path / "junk.pt")
    r = run_cli("export", "--gt", root / "gt", "--images", root / "images", "--model", tmp_path / "junk.pt",
                "--out", tmp_path / "x.csv")
    assert r.returncode == 2 and "not a TorchScript model" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_onnx_model_equals_its_saved_logits(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    root = make_images(tmp_path / "d", n=2)
    torch.onnx.export(TinySeg(), (torch.zeros(1, 3, 12, 16),), str(tmp_path / "m.onnx"), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {2: "h", 3: "w"}})
    onnx_model = load_model_file(tmp_path / "m.onnx", "cpu")
    folder = saved_logits(root, onnx_model, InputTransform("none"))
    common = ["--gt", root / "gt", "--device", "cpu"]
    r = run_cli("export", *common, "--images", root / "images", "--model", tmp_path / "m.onnx", "--normalize",
                "none", "--out", tmp_path / "model.csv")
    assert r.returncode == 0, r.stderr
    assert run_cli("export", *common, "--logits", folder, "--out", tmp_path / "saved.csv").returncode == 0
    assert (tmp_path / "model.csv").read_text() == (tmp_path / "saved.csv").read_text()
