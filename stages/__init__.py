"""DVC stage entry points: each module is run as ``python -m stages.<name>``."""
