"""Checks run on what a course notebook's fast run wrote, after tests/test_course.py has executed it.

Where a notebook's fast mode runs exactly the library run an end-to-end test would (same configuration, same
data), the test reads the notebook's outputs instead of running it a second time.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def check_fast_federated_run(out: Path) -> None:
    """Notebook 15's fast run: Flower on Ray, 3 clients, 2 rounds, SecAgg+, seed 6 drops one client each round.

    ``out`` is the notebook's run folder (``run/`` holds the Flower run, ``kws_sketch/`` the exported sketch).
    """
    import json

    import keras

    from tinymlkit.export.sketches import generated_name_problems
    from tinymlkit.federated.flower import client_drops
    from tinymlkit.runtime import tflm_available

    m = json.loads((out / "run" / "metrics.json").read_text())
    cfg = m["results"]["fedavg"]["config"]
    assert (cfg["num_clients"], cfg["rounds"], cfg["secagg"], cfg["seed"]) == (3, 2, True, 6), cfg
    dropped = {r: [c for c in range(3) if client_drops(cfg["seed"], c, r, cfg["dropout"])] for r in (1, 2)}
    assert dropped == {1: [0], 2: [2]}
    fed = m["results"]["fedavg"]
    assert [r["round"] for r in fed["per_round"]] == [0, 1, 2]
    # Every client that did not drop out reached the aggregate, through SecAgg+'s masks.
    assert fed["participants_per_round"] == [3 - len(dropped[1]), 3 - len(dropped[2])]
    assert fed["failed_messages"] == len(dropped[1]) + len(dropped[2])
    assert fed["messages_per_client_round"] >= 3  # setup, share keys, collect masked vectors (+ unmask)
    n_params = int(sum(np.prod(w.shape) for w in keras.models.load_model(out / "run" / "model.keras").get_weights()))
    assert fed["bytes_sent_per_client_round"] > 4 * n_params  # the masked update, at least 32 bits a weight
    assert 0.0 <= m["int8"]["balanced_accuracy"] <= 1.0
    assert m["int8"]["backend"] == ("tflm" if tflm_available() else m["int8"]["backend"])
    assert "central" in m["results"] and m["results"]["central"]["epochs"] == 2
    sketch = out / "kws_sketch"
    assert (sketch / "kws.ino").is_file(), "the notebook copies the keyword sketch before the run exports into it"
    assert (sketch / "model_settings.h").is_file() and generated_name_problems(sketch) == []


def check_deployment_can_run_again(out: Path) -> None:
    """Notebook 05 breaks its sketch's model_settings.h on purpose to show check_sketch; it must leave the sketch
    as an export finds it, or the learner's next run of the notebook stops at the export (a generated file edited
    by hand is never replaced without --force)."""
    import shutil
    import tempfile

    from tinymlkit.export.checks import check_sketch
    from tinymlkit.export.write import export_model

    sketch = out / "kws_sketch"
    report = check_sketch(sketch)
    assert report.ok, [f.format() for f in report.findings]
    assert list(sketch.glob("model_settings.h.bak-*")), "the hand-edited file is kept as a backup"
    with tempfile.TemporaryDirectory() as tmp:  # the same model and config, as the notebook's export cell gives them
        model = shutil.copy(sketch / "model" / "model_int8.tflite", tmp)
        config = shutil.copy(sketch / "model" / "config.json", tmp)
        export_model(model, config, sketch)  # the export of the notebook's next run: raises if it is refused


AFTER_RUN = {"15_federated_learning.ipynb": ("15_federated_learning", check_fast_federated_run),
             "05_deployment.ipynb": ("05_deployment", check_deployment_can_run_again)}
"""Notebook file name -> (its run_dir name, the check of what its fast run wrote)."""
