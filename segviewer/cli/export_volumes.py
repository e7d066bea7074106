"""`segviewer export` on 3-D cases: the per-class CSV under both aggregations, per case, per slice, figures."""
from __future__ import annotations

import argparse


def write_volume_outputs(ins, result, args: argparse.Namespace, axis: str | None) -> int:
    from ..core.volume_export import write_per_case_csv, write_per_slice_csv, write_volume_class_csv
    from .common import on_bad_photo
    from .export import boundary_result
    dataset, s = ins.dataset, ins.scoring
    names, counts = result.loaded_rows()
    soft = _loaded_soft(result)
    boundary = boundary_result(ins, args) if args.boundary_metrics else None
    write_volume_class_csv(args.out, dataset.classes, counts, soft, s, boundary)
    if args.per_image:
        write_per_case_csv(args.per_image, names, dataset.classes, counts, s, boundary)
    if args.per_slice:
        kept = [i for i in range(len(dataset)) if result.loaded[i]]
        spacings = [_spacing(dataset.items[i].gt, axis) for i in kept]
        write_per_slice_csv(args.per_slice, names, [result.per_slice[i] for i in kept], spacings, axis,
                            dataset.classes, s)
    if args.figures:
        from ..core.figures import write_worst_figures
        write_worst_figures(dataset, result, args.figures, args.worst, s, args.rank_by,
                            on_error=on_bad_photo(args.strict))
    return 0


def _loaded_soft(result):
    import torch
    from ..core.counts import Counts
    keep = torch.from_numpy(result.loaded)
    return Counts(*(t[keep] for t in (result.soft_per_image.tp, result.soft_per_image.fp, result.soft_per_image.fn)))


def _spacing(path, axis: str) -> float:
    from ..core.volume_sample import AXIS_NAMES
    from ..core.volumes import plane_spacing
    return plane_spacing(path, AXIS_NAMES.index(axis))
