"""DVC stage entry points: each module is run as ``python -m stages.<name>``."""
from distillation import lean_keras

lean_keras.install()  # before any stage imports Keras: a second off the start-up of each that does
