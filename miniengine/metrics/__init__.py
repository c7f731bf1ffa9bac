"""Metrics: values computed from the engine's outputs and written to ``engine.state.metrics``.

Each metric has ``reset()``, ``update(output)`` and ``compute()``; ``attach(engine, name)`` makes
the engine call them on the events of the chosen usage (see ``miniengine.metrics.metric``).

Example:
    >>> import torch
    >>> from miniengine.metrics import Accuracy
    >>> acc = Accuracy()
    >>> acc.update((torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0])))
    >>> acc.compute()
    0.5

Ignite's metrics that miniengine lacks fail with an error pointing to the coverage table in
``docs/differences.md``.
"""

from typing import Any

from miniengine._missing import missing_name
from miniengine.metrics import clustering, fairness, regression  # noqa: F401 (see __all__)
from miniengine.metrics.accumulation import Average, GeometricAverage, VariableAccumulation
from miniengine.metrics.accuracy import Accuracy
from miniengine.metrics.average_precision import AveragePrecision
from miniengine.metrics.classification_report import ClassificationReport
from miniengine.metrics.cohen_kappa import CohenKappa
from miniengine.metrics.confusion_matrix import (
    ConfusionMatrix,
    DiceCoefficient,
    IoU,
    JaccardIndex,
    mIoU,
)
from miniengine.metrics.cosine_similarity import CosineSimilarity
from miniengine.metrics.entropy import Entropy
from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.fbeta import Fbeta
from miniengine.metrics.frequency import Frequency
from miniengine.metrics.gpu_info import GpuInfo
from miniengine.metrics.hsic import HSIC
from miniengine.metrics.js_divergence import JSDivergence
from miniengine.metrics.kl_divergence import KLDivergence
from miniengine.metrics.loss import Loss
from miniengine.metrics.matthews_corrcoef import MatthewsCorrCoef
from miniengine.metrics.maximum_mean_discrepancy import MaximumMeanDiscrepancy
from miniengine.metrics.mean_absolute_error import MeanAbsoluteError
from miniengine.metrics.mean_average_precision import MeanAveragePrecision
from miniengine.metrics.mean_pairwise_distance import MeanPairwiseDistance
from miniengine.metrics.mean_squared_error import MeanSquaredError
from miniengine.metrics.metric import (
    BatchFiltered,
    BatchWise,
    EpochWise,
    Metric,
    MetricUsage,
    NotComputableError,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
)
from miniengine.metrics.metric_group import MetricGroup
from miniengine.metrics.metrics_lambda import MetricsLambda
from miniengine.metrics.multilabel_confusion_matrix import MultiLabelConfusionMatrix
from miniengine.metrics.mutual_information import MutualInformation
from miniengine.metrics.nlp.bleu import Bleu
from miniengine.metrics.nlp.character_error_rate import CharacterErrorRate
from miniengine.metrics.nlp.perplexity import Perplexity
from miniengine.metrics.nlp.rouge import Rouge, RougeL, RougeN
from miniengine.metrics.precision import Precision
from miniengine.metrics.precision_recall_curve import PrecisionRecallCurve
from miniengine.metrics.psnr import PSNR
from miniengine.metrics.rec_sys.hitrate import HitRate
from miniengine.metrics.rec_sys.ndcg import NDCG
from miniengine.metrics.recall import Recall
from miniengine.metrics.roc_auc import ROC_AUC, RocCurve
from miniengine.metrics.root_mean_squared_error import RootMeanSquaredError
from miniengine.metrics.running_average import RunningAverage
from miniengine.metrics.ssim import SSIM
from miniengine.metrics.top_k_categorical_accuracy import TopKCategoricalAccuracy
from miniengine.metrics.vision.object_detection_average_precision_recall import (
    CommonObjectDetectionMetrics,
    ObjectDetectionAvgPrecisionRecall,
    coco_tensor_list_to_dict_list,
)

__all__ = [
    "Accuracy",
    "Average",
    "AveragePrecision",
    "BatchFiltered",
    "BatchWise",
    "Bleu",
    "CharacterErrorRate",
    "ClassificationReport",
    "CohenKappa",
    "CommonObjectDetectionMetrics",
    "ConfusionMatrix",
    "CosineSimilarity",
    "DiceCoefficient",
    "Entropy",
    "EpochMetric",
    "EpochWise",
    "Fbeta",
    "Frequency",
    "GeometricAverage",
    "GpuInfo",
    "HSIC",
    "HitRate",
    "IoU",
    "JSDivergence",
    "JaccardIndex",
    "KLDivergence",
    "Loss",
    "MatthewsCorrCoef",
    "MaximumMeanDiscrepancy",
    "MeanAbsoluteError",
    "MeanAveragePrecision",
    "MeanPairwiseDistance",
    "MeanSquaredError",
    "Metric",
    "MetricGroup",
    "MetricUsage",
    "MetricsLambda",
    "MultiLabelConfusionMatrix",
    "MutualInformation",
    "NDCG",
    "NotComputableError",
    "ObjectDetectionAvgPrecisionRecall",
    "PSNR",
    "Perplexity",
    "Precision",
    "PrecisionRecallCurve",
    "ROC_AUC",
    "Recall",
    "RocCurve",
    "RootMeanSquaredError",
    "Rouge",
    "RougeL",
    "RougeN",
    "RunningAverage",
    "RunningBatchWise",
    "RunningEpochWise",
    "SSIM",
    "SingleEpochRunningBatchWise",
    "TopKCategoricalAccuracy",
    "VariableAccumulation",
    "coco_tensor_list_to_dict_list",
    "mIoU",
]
# Ignite lists "clustering", "regression" and "fairness" in __all__ too; pdoc would then
# document them twice.


def __getattr__(name: str) -> Any:
    raise missing_name(__name__, name)
