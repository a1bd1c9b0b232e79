"""The data: sources, the EMNIST layout, prepared splits and stored augmented views."""
