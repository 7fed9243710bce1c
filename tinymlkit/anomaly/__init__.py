"""Anomaly detection on machine sound: an MLPerf-Tiny-style dense autoencoder on log filterbank frames.

- ``config``: the run's frozen settings (front end, model, scoring), saved as ``config.json``;
- ``features``: frames from the board's own front end and the 5-frame windows the model sees;
- ``model``: the autoencoder;
- ``scoring``: reconstruction error, clip scores, ROC AUC and the alarm threshold;
- ``sketch``: the generated files of the live-monitoring sketch;
- ``run``: data -> train -> int8 -> TFLM scores -> sketch, in one call.

May import: layer 0-2 modules (config, errors, files, tf_quiet, audio, runtime, tflite_file, data,
train, convert, export); nothing imports it but the command line.
"""
