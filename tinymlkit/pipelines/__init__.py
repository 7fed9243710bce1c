"""Whole runs of the two tracks: data -> features -> train -> int8 -> scores on TFLM -> sketch files.

Modules: ``kws`` and ``vww`` (one call per run, the summaries the notebooks print), ``tail`` (the part
both share after training: convert, save, evaluate, arena, export, plots, metrics), ``steps`` (the
timed progress lines) and ``vww_lesson`` (the transfer-learning lessons' measurements, built on ``vww``).

May import: layers 0-2 (config, errors, files, paths, plots, targets, tf_quiet, audio, vision, runtime,
board_input, data, models, train, convert, evaluate, inspect, export). Layer 3: only the command line,
the advanced track (compress) and the notebooks import it.
"""
