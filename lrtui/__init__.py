"""lrtui: a keyboard-driven terminal lab for PyTorch learning-rate schedules."""

__version__ = "0.1.0"
