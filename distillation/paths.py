"""Where each artifact of the pipeline lives, relative to the project root (as in ``dvc.yaml``)."""
from pathlib import Path

RAW_DIR = Path("data/raw")  # the source stage's output: one of the two files below
RAW_MAT = RAW_DIR / "emnist.mat"  # an EMNIST-layout source (synthetic, the official files, a .mat)
RAW_IMAGES = RAW_DIR / "images.npz"  # your own images (a folder of class folders, an .npz), read and checked
PREPARED_DIR = Path("data/prepared")
INPUTS_DIR = Path("inputs")  # the inputs stage's fingerprints of your data.source and teacher.model
INPUTS_DATA_SOURCE, INPUTS_TEACHER_MODEL = INPUTS_DIR / "data_source.json", INPUTS_DIR / "teacher_model.json"
TEACHER_LOGITS = Path("data/teacher_logits.npz")
TEACHER_HIDDEN = Path("data/teacher_hidden.npz")  # FitNets' hints
TEACHER_MEMBERS_DIR = Path("models/teacher_members")  # members 1 … N − 1 of an ensemble of teachers
VIEWS_DIR = Path("data/views")  # augmented views of the training images (augment.views)
VIEW_TARGETS_DIR = Path("data/view_targets")  # the teacher's outputs for them
SAMPLES_PLOT = Path("plots/samples.png")
MODEL_NAMES = ("teacher", "baseline", "student")


def model_path(name: str) -> Path:
    return Path("models") / f"{name}.keras"


def metrics_path(name: str) -> Path:
    return Path("metrics") / f"{name}.json"


def test_correct_path(name: str) -> Path:
    """Which test images one model got right, a bit each (:mod:`distillation.models.per_image`)."""
    return Path("predictions") / f"{name}_test_correct.json"


def training_log_dir(name: str) -> Path:
    """dvclive's per-epoch curves of one model."""
    return Path("dvclive") / name


SUMMARY = Path("metrics/summary.json")


def confusion_path(name: str, suffix: str) -> Path:
    """Test-set confusion of one model: ``.csv`` (actual, predicted) for DVC, ``.png`` to look at."""
    return Path("plots/confusion") / f"{name}{suffix}"
