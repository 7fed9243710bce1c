"""Smaller and faster models, measured on the board's runtime: pruning, early exit, low-bit weights.

- ``budget``: what an int8 model costs on the board (flash, TFLM arena, MACs, latency, energy) and a
  budget stated in those terms;
- ``prune``: channel pruning to a budget, depth pruning (whole blocks), both as smaller dense models;
- ``early_exit``: a two-model cascade with a threshold chosen on validation data and a sketch export;
- ``lowbit``: weight quantisation-aware training at 8, 4 and 1 bits and honest packing of the weights;
- ``workbench``: the keyword data and training helpers the lessons and benchmarks share.

May import: layers 0-2 (config, errors, files, paths, energy, tf_quiet, runtime, tflite_file, data,
train, convert, evaluate, inspect, export) and ``pipelines`` (the keyword data of a run); only the
command line and the notebooks import it.
"""
from __future__ import annotations

from .budget import Budget, BudgetError, Cost, measure_cost, parse_budget

__all__ = ["Budget", "BudgetError", "Cost", "measure_cost", "parse_budget"]
