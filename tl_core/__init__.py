"""TensorLogic language core: syntax, models, checker, runtime. Imports nothing heavy."""

__version__ = "0.1.0"
