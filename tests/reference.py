"""The reference formula, as the popular open-source segmentation code writes it (flaws included), and nnU-Net's
evaluation of 3-D cases.

Used only to prove segviewer equals it where the reference is right (no ignore pixels, no absent classes).
"""
import numpy as np
import torch
import torch.nn.functional as F


def reference_f_score(inputs, target, beta=1, smooth=1e-5, threhold=0.5):
    n, c, h, w = inputs.size()
    nt, ht, wt, ct = target.size()
    if h != ht and w != wt:
        inputs = F.interpolate(inputs, size=(ht, wt), mode="bilinear", align_corners=True)
    temp_inputs = torch.softmax(inputs.transpose(1, 2).transpose(2, 3).contiguous().view(n, -1, c), -1)
    temp_target = target.view(n, -1, ct)
    temp_inputs = torch.gt(temp_inputs, threhold).float()
    tp = torch.sum(temp_target[..., :-1] * temp_inputs, axis=[0, 1])
    fp = torch.sum(temp_inputs, axis=[0, 1]) - tp
    fn = torch.sum(temp_target[..., :-1], axis=[0, 1]) - tp
    score = ((1 + beta ** 2) * tp + smooth) / ((1 + beta ** 2) * tp + beta ** 2 * fn + fp + smooth)
    return torch.mean(score), (tp, fp, fn)


def reference_dice_loss(inputs, target, beta=1, smooth=1e-5):
    n, c, h, w = inputs.size()
    nt, ht, wt, ct = target.size()
    if h != ht and w != wt:
        inputs = F.interpolate(inputs, size=(ht, wt), mode="bilinear", align_corners=True)
    temp_inputs = torch.softmax(inputs.transpose(1, 2).transpose(2, 3).contiguous().view(n, -1, c), -1)
    temp_target = target.view(n, -1, ct)
    tp = torch.sum(temp_target[..., :-1] * temp_inputs, axis=[0, 1])
    fp = torch.sum(temp_inputs, axis=[0, 1]) - tp
    fn = torch.sum(temp_target[..., :-1], axis=[0, 1]) - tp
    score = ((1 + beta ** 2) * tp + smooth) / ((1 + beta ** 2) * tp + beta ** 2 * fn + fp + smooth)
    return 1 - torch.mean(score)


def reference_target(labels, num_classes):
    """The reference's one-hot target with its extra last channel for the ignore id."""
    clipped = labels.clone()
    clipped[clipped >= num_classes] = num_classes
    return F.one_hot(clipped, num_classes + 1).float()


# ---- nnU-Net's evaluation, reproduced from nnunetv2/evaluation/evaluate_predictions.py (compute_metrics and the
# ---- summary of compute_metrics_on_folder), on arrays instead of files
def nnunet_compute_metrics(seg_ref, seg_pred, labels, ignore_label=None):
    ignore_mask = seg_ref == ignore_label if ignore_label is not None else None
    use_mask = np.ones_like(seg_ref, dtype=bool) if ignore_mask is None else ~ignore_mask
    results = {}
    for r in labels:
        mask_ref, mask_pred = seg_ref == r, seg_pred == r
        tp = np.sum((mask_ref & mask_pred) & use_mask)
        fp = np.sum(((~mask_ref) & mask_pred) & use_mask)
        fn = np.sum((mask_ref & (~mask_pred)) & use_mask)
        if tp + fp + fn == 0:
            dice = iou = np.nan
        else:
            dice, iou = 2 * tp / (2 * tp + fp + fn), tp / (tp + fp + fn)
        results[r] = {"Dice": dice, "IoU": iou, "TP": tp, "FP": fp, "FN": fn}
    return results


def nnunet_summary(per_case, labels):
    means = {r: {m: np.nanmean([case[r][m] for case in per_case]) for m in ("Dice", "IoU")} for r in labels}
    foreground = {m: np.mean([means[r][m] for r in labels if r != 0]) for m in ("Dice", "IoU")}
    return means, foreground
