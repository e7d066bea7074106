"""--model for the window and the export: the dataset whose predictions come from a model file (torch inside)."""
from __future__ import annotations

import argparse
import dataclasses

from .common import progress_bar, report_failures
from .options import data_options_from_args


def model_dataset_from_args(args: argparse.Namespace):
    """A ModelDataset for --gt, --images, --model, --normalize, --input-size and the other data options."""
    from ..core.errors import LoadError
    from ..core.model_source import InputTransform, file_fingerprint, load_model_file, open_model_dataset
    if getattr(args, "workers", None) or getattr(args, "scheduler", None):
        raise LoadError(None, "--model runs the model in this process: leave out --workers / --scheduler")
    options = data_options_from_args(argparse.Namespace(**{**vars(args), "logits": args.model, "masks": None}))
    transform = InputTransform(args.normalize, args.input_size)
    model = load_model_file(args.model, options.device)
    fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)
              if f.name not in ("gt_dir", "pred_dir", "pred_kind")}
    return open_model_dataset(options.gt_dir, model, transform, model_key=file_fingerprint(args.model, transform),
                              **fields)


def cached_model_options(args: argparse.Namespace):
    """Runs the model once over every image (cached files are reused) and returns options that read the cached
    logits as an ordinary logits folder: what the window opens until it reads an engine directly."""
    from ..core.errors import LoadError
    dataset = model_dataset_from_args(args)
    failures = []
    with progress_bar(len(dataset), "model") as bar:
        for i in range(len(dataset)):
            try:
                dataset.logits(i)
            except LoadError as exc:
                failures.append(exc)
            bar.update(1)
    report_failures(failures)
    if len(failures) == len(dataset):
        raise LoadError(args.model, "the model failed on every image")
    return dataset.options
