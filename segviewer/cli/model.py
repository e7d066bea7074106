"""--model for the window and the export: the dataset whose predictions come from a model file (torch inside)."""
from __future__ import annotations

import argparse
import dataclasses

from .options import data_options_from_args


def model_dataset_from_args(args: argparse.Namespace):
    """A ModelDataset for --gt, --images, --model, --normalize, --input-size and the other data options."""
    from ..core.errors import OptionError
    from ..core.model_source import InputTransform, file_fingerprint, load_model_file, open_model_dataset
    if getattr(args, "workers", None) or getattr(args, "scheduler", None):
        raise OptionError("--model runs the model in this process: leave out --workers / --scheduler")
    options = data_options_from_args(argparse.Namespace(**{**vars(args), "logits": args.model, "masks": None}))
    transform = InputTransform(args.normalize, args.input_size)
    model = load_model_file(args.model, options.device)
    fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)
              if f.name not in ("gt_dir", "pred_dir", "pred_kind")}
    return open_model_dataset(options.gt_dir, model, transform, model_key=file_fingerprint(args.model, transform),
                              **fields)


def model_engine(args: argparse.Namespace):
    """What builds the window's engine on a model source (called after the window is on screen)."""
    def build():
        from ..core.inspector import Inspector
        return Inspector(model_dataset_from_args(args))
    return build
