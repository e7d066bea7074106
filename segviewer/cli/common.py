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


def on_bad_photo(strict: bool):
    """What a bad photo (images/) does to a figure: with --strict it ends the run as any bad file does (its one
    line, nothing written); else it is reported and the figure drawn without it."""
    def handle(exc) -> None:
        if strict:
            raise exc
        report_failures([exc])
    return handle


def logits_engine(args, needs: str, outputs: dict, plot: str | None = None, scoring=None, **keywords):
    """(dataset, engine) of a command that needs probabilities (logits_dataset, then engine_from_args)."""
    dataset = logits_dataset(args, needs, outputs, plot)
    return dataset, engine_from_args(args, dataset, scoring, **keywords)


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


def scoring_from_args(args, dataset):
    """The Scoring of --threshold / --argmax, --beta, --smooth (and --boundary / --interior where a command has
    them) for this dataset: hard masks predict by themselves (argmax)."""
    from ..core.options import parse_threshold
    from ..core.scoring import MAX_BOUNDARY, Scoring
    argmax = bool(getattr(args, "argmax", False)) or dataset.is_hard
    threshold = 0.5 if argmax else parse_threshold(args.threshold, dataset.classes.num_classes)
    band = min(getattr(args, "boundary", None) or 0, MAX_BOUNDARY)   # wider than any label map: the whole image
    return Scoring(threshold=threshold, argmax=argmax, beta=args.beta, smooth=args.smooth, boundary=band,
                   interior=bool(getattr(args, "interior", False)))


OPEN_ENGINES: list = []     # closed when the command returns (cli.main): a local Dask cluster stops with them


def engine_from_args(args, dataset, scoring=None, **keywords):
    """The engine every command runs its passes through, on the cluster of --workers / --scheduler if given (one
    cluster for all of the command's passes)."""
    from ..core.inspector import Inspector
    from .options import cluster_from_args
    engine = Inspector(dataset, scoring, cluster=cluster_from_args(args), **keywords)
    OPEN_ENGINES.append(engine)
    return engine


def close_engines() -> None:
    while OPEN_ENGINES:
        OPEN_ENGINES.pop().close()


def progress_of(bar):
    """A pass's progress(done, total) on the bar (a chunk of images at once from a cluster; a resumed build's
    first report is where it starts)."""
    def report(done: int, total: int) -> None:
        if bar.n == 0 and done > 1:       # where a resumed build starts: no speed, so no estimate from it
            bar.initial = bar.n = bar.last_print_n = done
            bar.refresh()
        else:
            bar.update(done - bar.n)
    return report
