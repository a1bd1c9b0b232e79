"""Stages start without what they never use: Keras without its optional extras (distillation.lean_keras)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT
from distillation.lean_keras import OPTIONAL_EXTRAS, modules_hidden


def test_a_hidden_module_cannot_be_imported_inside_and_imports_as_usual_after():
    name = "colorsys"  # a standard module the test process has no other reason to import
    sys.modules.pop(name, None)
    with modules_hidden((name, "json")):
        with pytest.raises(ImportError):
            __import__(name)
        import json  # already imported before: untouched

        assert json.dumps(1) == "1"
    assert __import__(name).rgb_to_hsv(0, 0, 0) == (0, 0, 0)


def test_a_stage_process_starts_keras_without_the_extras_and_can_still_import_them_after():
    # Keras's own fallbacks for the absent extras are in place (pandas may come later, with dvclive).
    script = (
        "import sys; import stages.train_baseline, keras; "
        "from keras.src.trainers.data_adapters import array_slicing; "
        "from keras.src.visualization import plot_image_gallery; "
        "print('sklearn' in sys.modules, array_slicing.pandas, plot_image_gallery.plt); "
        "keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]); "
        "import sklearn, pandas, matplotlib.pyplot; print('after', sklearn.__name__, pandas.__name__)"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-2:] == ["False None None", "after sklearn pandas"]
    assert OPTIONAL_EXTRAS == ("sklearn", "pandas", "matplotlib")
