"""Comparing methods over seeds (``make compare``; rendered by ``make report``).

The modules: :mod:`~distillation.comparison.config` (``comparison.yaml``), :mod:`~distillation.comparison.plan`
(the runs and the choice on val), :mod:`~distillation.comparison.records` (what a comparison chose and
ran), :mod:`~distillation.comparison.stats` (the tests), :mod:`~distillation.comparison.studies` (K curves,
ensembles, levers) and :mod:`~distillation.comparison.calibration` (the tests hold their level).

1. **Selection.** Each method's grid (``comparison.yaml``; its own settings and, where the grid
   says so, recipe knobs such as ``distill.epochs`` and ``augment.views``) runs with the first
   teacher at the ``selection_replicates`` MLP seeds; the point with the highest mean student
   **val** accuracy is chosen (:func:`~distillation.comparison.plan.choose_settings`), and the baseline's recipe likewise on its
   own val where the config gives it a grid (:func:`~distillation.comparison.plan.choose_baseline`). Those seeds are never among
   the reported ones, so the run that won the choice is never reported (no winner's curse).
2. **Reported runs.** The chosen points run afresh over MLP replicates 0..R−1 and, for the
   methods that read the teacher, over teachers 0..T−1 (``teacher.replicate``); every experiment
   trains the baseline (at its chosen recipe) with the same MLP seed.
3. **Statistics** (:func:`~distillation.comparison.stats.summarise`): per method, test mean ± std; each method's gain over the
   baseline and its difference to the best control (the control with the higher mean val
   accuracy), with the **MLP seed as the unit** (:func:`~distillation.comparison.stats.paired_difference`: each side averaged
   over its teachers within a seed, then paired by seed), ``scipy.stats.ttest_rel`` p-values and
   95 % intervals. The family of all these comparisons is adjusted with Benjamini–Hochberg
   (:func:`scipy.stats.false_discovery_control`); the verdict follows the adjusted p-value, and
   the adjusted interval is Benjamini–Yekutieli's false-coverage-rate interval (level 1 − R·α/m
   for R of m comparisons declared). :mod:`distillation.comparison.calibration` shows the test holds its
   level, and so does the reach comparison, which counts the teachers' own spread (Welch).

The comparison writes what it chose and which runs it used to a **record**
(``reports/comparison-<source>.json``); the reports are made from records only, so ``make
report`` shows exactly the comparison's runs whatever other experiments the repository holds.
"""
