"""Reference numbers for Lathe's detection and segmentation metrics (LatheDetectionTests).

  detection_oracle.py coco GT.json DETECTIONS.json
      pycocotools' COCOeval (bbox): prints "stats: AP AP50 AP75" (stats[0..2], repr floats)
      and "per_category: id=AP ..." (mean of precision[:, :, k, area all, maxDets 100] > -1).
  detection_oracle.py miou TRUTH.u8 PRED.u8 CLASSES IGNORE
      mIoU and pixel accuracy with numpy from two raw uint8 label files: a bincount confusion
      matrix; IoU per class over classes with a non-zero union; prints "miou: M" and "pixel_accuracy: A".
"""
import contextlib
import io
import sys

import numpy as np


def coco(gt_path, dt_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(dt_path)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    print("stats: " + " ".join(repr(float(v)) for v in ev.stats[:3]))
    per = []
    for k, cat in enumerate(ev.params.catIds):
        p = ev.eval["precision"][:, :, k, 0, -1]
        per.append(f"{cat}={float(np.mean(p[p > -1])) if (p > -1).any() else -1.0!r}")
    print("per_category: " + " ".join(per))


def miou(truth_path, pred_path, classes, ignore):
    t = np.fromfile(truth_path, dtype=np.uint8).astype(np.int64)
    p = np.fromfile(pred_path, dtype=np.uint8).astype(np.int64)
    keep = t != ignore
    t, p = t[keep], p[keep]
    cm = np.bincount(t * classes + p, minlength=classes * classes).reshape(classes, classes)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    iou = tp[union > 0] / union[union > 0]
    print(f"miou: {float(iou.mean())!r}")
    print(f"pixel_accuracy: {float(tp.sum() / cm.sum())!r}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["coco"] and len(sys.argv) == 4:
        coco(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["miou"] and len(sys.argv) == 6:
        miou(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
