"""Commands run by hand (not DVC stages): ``python -m scripts.<name>`` from the project root."""
