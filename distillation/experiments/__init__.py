"""DVC experiments: the table of runs, the queue, Optuna sweeps, remotes and scratch copies."""
