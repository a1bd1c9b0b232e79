"""Training a classifier or a student: recipes, precision, losses and the batches fed to fit."""
