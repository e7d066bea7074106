"""What every command prints the same way: progress on stderr, pairing problems, skipped files."""
from __future__ import annotations

import sys


def progress_bar(total: int, desc: str):
    """A tqdm bar on stderr when it is a terminal; silent otherwise."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def report_problems(dataset) -> None:
    from ..core.errors import one_line
    for line in dataset.pairing.problems():
        print(f"segviewer: warning: {one_line(line)}", file=sys.stderr)   # invalid UTF-8 names: U+FFFD


def report_failures(failures) -> None:
    from ..core.errors import one_line
    for exc in failures:
        print(f"segviewer: skipped {one_line(exc)}", file=sys.stderr)


def logits_dataset(args, needs: str, outputs: dict, plot: str | None = None):
    """The dataset of a command that needs probabilities: masks refused with `needs` as the reason, the outputs
    checked against every input (`plot` names the option whose file must be an image), pairing problems reported."""
    from ..core.dataset import Dataset
    from ..core.errors import LoadError
    from ..core.outputs import PLOT_EXTS, OutputGuard
    from .options import data_options_from_args
    dataset = Dataset(data_options_from_args(args))
    if dataset.is_hard:
        raise LoadError(dataset.options.pred_dir, needs)
    OutputGuard().add_dataset(dataset).check(outputs, formats={plot: PLOT_EXTS} if plot else None)
    report_problems(dataset)
    return dataset
