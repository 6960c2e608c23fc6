extension ReportModel {
    /// What the "accuracy" metrics hold: the trials' task metric (provenance `metric`:
    /// `accuracy`, `miou` or `map`), `accuracy` when none is recorded or they differ.
    public var qualityMetric: String {
        let values = provenance.first { $0.key == "metric" }?.values ?? []
        return values.count == 1 ? values[0].value : "accuracy"
    }

    /// The task metric as a chart axis names it.
    public var qualityLabel: String {
        switch qualityMetric {
        case "map": "mAP@[.5:.95] (%)"
        case "miou": "mIoU (%)"
        default: "top-1 accuracy (%)"
        }
    }

    /// What a flip is for this task's agreement figures (segmenters: per pixel; detectors record none).
    public var flipUnit: String { qualityMetric == "miou" ? "test pixels whose predicted class differs" : "test predictions differing" }

    /// One sentence saying what the accuracy columns hold when the task is not classification.
    public var qualityNote: String {
        switch qualityMetric {
        case "map": "Detection sweep: every “accuracy” figure is COCO mAP@[.5:.95] of the decoded boxes on the test canvases (as pycocotools computes it); Δ are mAP points. Detectors record no flip rate or KL (their outputs are not one class distribution per image). "
        case "miou": "Segmentation sweep: every “accuracy” figure is the mean IoU over the classes (background included) on the test canvases; Δ are mIoU points; flips and KL are per pixel. "
        default: ""
        }
    }
}
