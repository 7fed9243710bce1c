"""Whole runs of the two tracks: data -> features -> train -> int8 -> scores on TFLM -> sketch files.

Modules: ``kws`` and ``vww`` (one call per run, the summaries the notebooks print), ``tail`` (the part
both share after training: convert, save, evaluate, arena, export, plots, metrics), ``steps`` (the
timed progress lines), ``vww_lesson`` (the transfer-learning lessons' measurements, built on ``vww``),
``kws_frontends`` (one model trained on micro, log-mel and MFCC features of the same clips: notebook 02) and
``kws_groups`` (keyword scores per recording condition and speaker, and models side by side on held-out
real speakers: notebook 03).

May import: layers 0-2 (config, errors, files, paths, plots, targets, tf_quiet, audio, vision, runtime,
board_input, data, models, train, convert, evaluate, inspect, export). Layer 3: only the command line,
the advanced track (compress) and the notebooks import it.
"""
