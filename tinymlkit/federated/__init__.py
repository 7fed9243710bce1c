"""Federated keyword spotting with Flower: clients are speakers, each training on its own clips only.

- ``partition``: the clients' data (by speaker, shuffled, or label-skewed) as micro-feature arrays;
- ``flower``: the Flower ServerApp and ClientApp (FedAvg, optional SecAgg+ modifiers, client dropout,
  traffic measured by a client mod) run on Flower's simulation engine (Ray);
- ``run``: central training on the same clips, FedAvg, int8 on TFLM and export to the keyword sketch.

Flower is an optional dependency (``pip install "tinymlkit[advanced]"``, which brings ``flwr[simulation]``).

May import: layers 0-2 (config, errors, files, paths, tf_quiet, audio, runtime, data, models, train,
convert, evaluate, export); only the notebooks import it.
"""
