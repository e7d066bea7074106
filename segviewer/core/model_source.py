"""A model as the prediction source: each image's logits come from running the model on it, on demand, on the
device, and are cached as float16 under .segviewer/ beside the dataset (the same files save_logits writes).

The dataset's `options` point at that cache folder as an ordinary logits folder: once every image has been run
(building the index does it), a plain Dataset on them gives the same numbers. Nothing is loaded that the user did
not name; a TorchScript file runs the code it contains.
"""
from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .classes import resolve_classes
from .dataset import Dataset
from .device import resolve_device
from .errors import LoadError, OptionError
from .evaluator import save_logits
from .io import IMAGE_EXTS, LABEL_EXTS, Item, Pairing, all_finite, find_files, load_image, load_logits
from .options import DEFAULT_STRIP_SUFFIXES, DataOptions, state_folder
from .probs import to_probabilities

NORMALIZATIONS = ("imagenet", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHSCRIPT_EXTS = (".pt", ".pth", ".ts", ".torchscript", ".jit")


@dataclass(frozen=True)
class ModelDataOptions(DataOptions):
    """DataOptions whose pred_dir is the model's logit cache; the model's fingerprint keys every cache."""
    model_key: str = ""

    def probability_key(self) -> dict:
        return {**super().probability_key(), "model": self.model_key}


@dataclass(frozen=True)
class InputTransform:
    """The CLI's input preparation: RGB in [0, 1] -> optional resize to the model's input size -> normalisation."""
    normalize: str = "none"
    size: tuple[int, int] | None = None

    def __post_init__(self):
        """The model's input (3 float32 channels at `size`, resized then normalised: three such tensors at once)
        within the memory budget, before any image is read: a 40000x40000 input asked for 19 GB per image."""
        if self.size is not None:
            from .budgets import check_needs
            h, w = (int(v) for v in self.size)
            check_needs("the model's input", [(3 * 3 * 4 * h * w, f"--input-size {h}x{w}, 3 channels of float32",
                                               "lower --input-size")])

    @property
    def cache_key(self) -> str:
        return f"normalize={self.normalize};size={self.size}"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None and tuple(x.shape[-2:]) != tuple(self.size):
            x = torch.nn.functional.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        if self.normalize == "imagenet":
            mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        return x


class ModelDataset(Dataset):
    """Ground truth and images from folders; the predictions from the model (then from its cache)."""

    def __init__(self, options: ModelDataOptions, model: Callable, transform: Callable | None = None):
        self.options = options
        self.device = resolve_device(options.device)
        self.model, self.transform = model, transform
        self._model_lock = threading.Lock()
        self.pairing = pair_images(options.gt_dir, options.images_dir, options.strip_suffixes)
        self.classes = self._resolve_classes()
        self._label_lut = self.classes.lookup_table()
        self.logits(0)   # a model that cannot run says so now, not on the first image shown

    @property
    def cache_dir(self) -> Path:
        return self.options.pred_dir

    def _infer_num_classes(self, ignore: int) -> int:
        return int(self.logits(0).shape[0])

    def _load_probs(self, item: Item, size: tuple[int, int]) -> torch.Tensor:
        logits = self.item_logits(item)
        if logits.shape[0] != self.classes.num_classes:
            raise LoadError(item.image, f"wrong number of classes: the model gives {logits.shape[0]} channels, "
                                        f"but the classes define {self.classes.num_classes}")
        opts = self.options
        return to_probabilities(logits, size, opts.activation, opts.align_corners, self.device)

    def logits(self, index: int) -> torch.Tensor:
        """C×h×w float32 logits (float16 values, as cached) of one image: from the cache, else from the model."""
        return self.item_logits(self.items[index])

    def item_logits(self, item: Item) -> torch.Tensor:
        path = self.cache_dir / f"{item.name}.npy"
        if path.is_file():
            try:
                return load_logits(path)
            except LoadError:
                pass   # a damaged cache file is recomputed
        logits = self._run_model(item)
        try:
            save_logits(self.cache_dir, item.name, logits, private=True)
        except LoadError as exc:
            if exc.path is None:   # beyond float16: the cache (and the window) could not hold these logits
                raise LoadError(item.image, exc.reason) from None
        return logits.half().float()

    def _run_model(self, item: Item) -> torch.Tensor:
        image = load_image(item.image)
        x = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float().div_(255.0)
        x = x.to(_input_device(self.model, self.device))
        try:
            with self._model_lock, torch.inference_mode():
                if self.transform is not None:
                    x = self.transform(x)
                out = self.model(x)
        except LoadError:
            raise
        except Exception as exc:   # any failure inside the user's model is that image's error, in one line
            raise LoadError(item.image, f"the model failed on this image: {type(exc).__name__}: {first_line(exc)}") \
                from None
        return _as_logits(out, item.image)


def _as_logits(out, path: Path) -> torch.Tensor:
    """The model's output as C×h×w float32 on the CPU: a tensor, the 'out' of a dict, or a tuple's first item."""
    if isinstance(out, dict):
        out = out.get("out", next(iter(out.values())) if len(out) == 1 else None)
    elif isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise LoadError(path, f"the model returned {type(out).__name__}, not a logits tensor [1,C,h,w]")
    if out.ndim == 4 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 3 or not out.is_floating_point():
        raise LoadError(path, f"the model returned {tuple(out.shape)} {out.dtype}; expected float logits [1,C,h,w]")
    out = out.detach().float().cpu().contiguous()
    if not all_finite(out):
        raise LoadError(path, "the model returned NaN or Inf logits")
    return out


def first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def _input_device(model, default: torch.device) -> torch.device:
    """Where the model's weights are (a user's nn.Module stays where they put it), else the dataset's device."""
    if isinstance(model, torch.nn.Module):
        first = next(iter(model.parameters()), None)
        if first is not None:
            return first.device
    return default


def pair_images(gt_dir: Path, images_dir: Path | None, strip_suffixes=DEFAULT_STRIP_SUFFIXES) -> Pairing:
    """Ground truth paired with images by name; the model reads the image, so pred is the image too."""
    if images_dir is None:
        raise OptionError("a model as the prediction source needs images= (--images DIR): it runs on them")
    gts, gt_dups = find_files(Path(gt_dir), LABEL_EXTS, strip_suffixes)
    images, image_dups = find_files(Path(images_dir), IMAGE_EXTS, strip_suffixes)
    if not gts:
        raise LoadError(gt_dir, "no ground-truth label maps (.png) found")
    names = sorted(gts.keys() & images.keys())
    if not names:
        raise LoadError(images_dir, f"no image pairs with {gt_dir} by name")
    items = [Item(n, gts[n], images[n], images[n]) for n in names]
    unpaired = {"ground-truth": sorted(gts.keys() - images.keys()), "image": sorted(images.keys() - gts.keys())}
    dups = {"ground-truth": gt_dups, "image": image_dups}
    return Pairing(items, {k: v for k, v in unpaired.items() if v}, {k: v for k, v in dups.items() if v})


def model_fingerprint(model, transform=None) -> str:
    """What keys the caches: a module's class, structure and weights, and the transform's key. A plain function or
    a transform without a cache_key gets a fresh key (no cache reuse across sessions: its code cannot be known)."""
    if transform is not None and not hasattr(transform, "cache_key"):
        return f"run-{uuid.uuid4().hex}"
    if not isinstance(model, torch.nn.Module):
        return getattr(model, "cache_key", None) or f"run-{uuid.uuid4().hex}"
    h = hashlib.sha256(f"{type(model).__qualname__}|{model!r}|{getattr(transform, 'cache_key', '')}".encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def open_model_dataset(gt_dir, model: Callable, transform: Callable | None = None, *, model_key: str | None = None,
                       **fields) -> ModelDataset:
    """A Dataset over gt_dir and images_dir (required) whose logits come from model([1,3,H,W] RGB in [0,1],
    after transform) -> [1,C,h,w]. fields: the other DataOptions fields (classes, ignore_index, device, ...)."""
    if not callable(model):
        raise OptionError(f"model= must be callable ([1,3,H,W] -> [1,C,h,w] logits), got {type(model).__name__}")
    if fields.get("images_dir") is None:
        raise OptionError("a model as the prediction source needs images= (--images DIR): it runs on them")
    if fields.get("classes") is not None:
        resolve_classes(fields["classes"], fields.get("num_classes"), fields.get("ignore_index"))   # fail early
    if isinstance(model, torch.nn.Module):
        model.eval()
    key = model_key or model_fingerprint(model, transform)
    cache = state_folder(gt_dir, "index") / f"model-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    cache.mkdir(parents=True, exist_ok=True)
    options = ModelDataOptions(gt_dir=Path(gt_dir), pred_dir=cache, pred_kind="logits", model_key=key, **fields)
    return ModelDataset(options, model, transform)


# ---- model files (the CLI's --model) ----
def load_model_file(path: str | Path, device: str = "auto") -> Callable:
    """A TorchScript file (torch.jit.load) or an ONNX file (onnxruntime), as a callable on tensors."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(path, "model file does not exist")
    if path.suffix.lower() == ".onnx":
        return OnnxModel(path, resolve_device(device))
    if path.suffix.lower() not in TORCHSCRIPT_EXTS:
        raise LoadError(path, f"unknown model format {path.suffix!r}: use TorchScript ({', '.join(TORCHSCRIPT_EXTS)}) "
                              f"or ONNX (.onnx)")
    try:
        return torch.jit.load(str(path), map_location=resolve_device(device))
    except Exception as exc:   # torch raises RuntimeError, ValueError, zipfile errors... for files it cannot read
        raise LoadError(path, f"not a TorchScript model ({first_line(exc)}); save one with "
                              f"torch.jit.script(model).save(path) or torch.jit.trace — segviewer never unpickles "
                              f"a model object") from None


def file_fingerprint(path: str | Path, transform: InputTransform) -> str:
    h = hashlib.sha256(transform.cache_key.encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class OnnxModel:
    """An ONNX model through onnxruntime (the optional extra segviewer[onnx]): tensors in, tensors out."""

    def __init__(self, path: Path, device: torch.device):
        try:
            import onnxruntime as ort
        except ImportError:
            raise LoadError(path, "ONNX models need onnxruntime: pip install 'segviewer[onnx]'") from None
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider",) if device.type == "cuda" and p in available]
        try:
            self.session = ort.InferenceSession(str(path), providers=[*providers, "CPUExecutionProvider"])
        except Exception as exc:   # onnxruntime raises its own exception types for unreadable models
            raise LoadError(path, f"not an ONNX model onnxruntime can run ({first_line(exc)})") from None
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input_name: x.detach().cpu().numpy().astype(np.float32)})
        return torch.from_numpy(out[0])
