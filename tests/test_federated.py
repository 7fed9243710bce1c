"""Federated keyword spotting: partitions by speaker, dropout draws, the Ray helpers.

The real Flower simulation (Ray, SecAgg+, dropouts, int8, sketch) is notebook 15's fast run, checked by
tests/notebook_checks.py."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.errors import KitError
from tinymlkit.federated.flower import client_drops
from tinymlkit.federated.partition import label_histogram, partition_clients


def _toy(n_speakers: int = 6, per: int = 10):
    rng = np.random.default_rng(0)
    speakers = [f"s{i}" for i in range(n_speakers) for _ in range(per)] + [""] * 7
    y = np.concatenate([rng.integers(1, 4, n_speakers * per), np.zeros(7, dtype=int)])
    x = rng.normal(size=(len(y), 4, 3)).astype(np.float32)
    return x, y, speakers


def test_speaker_partition_keeps_every_speaker_on_one_client():
    x, y, spk = _toy()
    clients = partition_clients(x, y, spk, 3, "speaker", seed=1)
    owners: dict[str, set[int]] = {}
    for i, c in enumerate(clients):
        for s in c.speakers:
            owners.setdefault(s, set()).add(i)
    assert all(len(v) == 1 for s, v in owners.items() if s)
    assert sum(len(c.y) for c in clients) == len(y)  # nothing lost, nothing doubled
    assert {s for s in owners if s} == {f"s{i}" for i in range(6)}


def test_iid_and_label_skew_partitions():
    x, y, spk = _toy()
    iid = partition_clients(x, y, spk, 3, "iid", seed=1)
    assert sorted(len(c.y) for c in iid) == [22, 22, 23]
    skew = partition_clients(x, y, spk, 3, "label_skew", keyword_ids=(2, 3), seed=1)
    hist = label_histogram(skew, 4)
    for i, h in enumerate(hist):  # client i never holds keyword (2, 3)[i % 2]
        assert h[(2, 3)[i % 2]] == 0
    with pytest.raises(KitError, match="unknown partition"):
        partition_clients(x, y, spk, 3, "random")
    with pytest.raises(KitError, match="clients for 6 speakers"):
        partition_clients(x, y, spk, 7)


def test_dropout_draw_is_repeatable_and_near_its_share():
    draws = [client_drops(5, c, r, 0.2) for c in range(50) for r in range(1, 21)]
    assert draws == [client_drops(5, c, r, 0.2) for c in range(50) for r in range(1, 21)]
    assert 0.15 < np.mean(draws) < 0.25
    assert not any(client_drops(5, c, 1, 0.0) for c in range(50))


def test_flower_simulation_with_secagg_and_dropout_gives_an_int8_keyword_sketch():
    """The Flower run itself (Ray, SecAgg+, dropouts, int8 on TFLM, the sketch) is notebook 15's fast mode:
    tests/test_course.py runs it and tests/notebook_checks.py checks what it wrote. Here: the check is wired."""
    from notebook_checks import AFTER_RUN, check_fast_federated_run

    assert AFTER_RUN["15_federated_learning.ipynb"] == ("15_federated_learning", check_fast_federated_run)
    # The seed the notebook uses drops client 0 in round 1 and client 2 in round 2 (what the check relies on).
    assert {r: [c for c in range(3) if client_drops(6, c, r, 0.34)] for r in (1, 2)} == {1: [0], 2: [2]}


def test_ray_helpers_skip_the_slow_optional_import_and_the_path_is_put_back():
    # Ray's helper processes get this process's sys.path through PYTHONPATH (Flower sets it when it starts
    # Ray); inside the guard a fresh Python on that path cannot import rfc3987_syntax but still imports
    # jsonschema (which treats it as optional); afterwards sys.path and PYTHONPATH are as before.
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray (Flower's simulation extra) is not installed")
    import ray  # noqa: F401  (importing Ray puts its own folder on sys.path; the guard must change nothing else)

    from tinymlkit.federated.flower import ray_import_guard

    path_before, env_before = list(sys.path), os.environ.get("PYTHONPATH")
    probe = ("import importlib, sys\n"
             "try:\n    import rfc3987_syntax\n    print('imported')\n"
             "except ImportError as e:\n    print('blocked' if 'Ray processes' in str(e) else 'absent')\n"
             "import jsonschema; print('jsonschema ok')\n")
    with ray_import_guard():
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["blocked", "jsonschema", "ok"]
    assert sys.path == path_before and os.environ.get("PYTHONPATH") == env_before


def test_fast_voices_are_the_keyword_tracks_fast_set(monkeypatch):
    # Both write dataset_dir("synth_kws_fast"): with two recipes every run after the other's remade the set. The
    # federated lesson and the compression lessons reach the synthetic set through the keyword track's one function.
    import pytest

    from tinymlkit.compress.workbench import kws_work
    from tinymlkit.federated.run import prepare_data
    from tinymlkit.pipelines import kws

    asked = []

    def stop(fast, progress=True):
        asked.append(fast)
        raise RuntimeError("stop here")

    monkeypatch.setattr(kws, "synthetic_keywords", stop)
    for make in (lambda: prepare_data(None, fast=True, progress=False), lambda: kws_work(None, fast=True)):
        with pytest.raises(RuntimeError, match="stop here"):
            make()
    assert asked == [True, True]


def test_server_update_rules_are_flowers_strategies_and_a_halted_round_shows():
    import importlib.util

    from tinymlkit.federated.flower import FederatedConfig, _recording_strategy
    from tinymlkit.federated.run import format_summary

    if importlib.util.find_spec("flwr") is None:
        pytest.skip("Flower is not installed")
    from flwr.server.strategy import FedAdam, FedAvg, FedAvgM

    seen: dict[int, tuple[int, int]] = {}
    for name, cls in (("fedavg", FedAvg), ("fedavgm", FedAvgM), ("fedadam", FedAdam)):
        assert issubclass(_recording_strategy(FederatedConfig(server_optimizer=name), seen), cls)
    with pytest.raises(KitError, match="server_optimizer 'sgd'"):
        _recording_strategy(FederatedConfig(server_optimizer="sgd"), seen)
    # A round SecAgg+ halted (no aggregate) is named in the summary with Flower's reason, never left out.
    run = {"balanced_accuracy": 0.5, "config": {"rounds": 5}, "failed_rounds": [1],
           "server_errors": [{"round": 1, "level": "ERROR", "message": "Insufficient available nodes."}]}
    text = format_summary({"data": "d", "test_clips": 9, "labels": ["a", "b"], "results": {"secagg": run},
                           "int8": {"backend": "tflm", "balanced_accuracy": 0.5, "model_bytes": 1}})
    assert "round(s) [1] of 5 reached no aggregate" in text and "Insufficient available nodes." in text


def test_traffic_counts_secaggs_unmask_message_with_no_dropped_client():
    # SecAgg+'s unmask message lists the dropped neighbours: an empty list when none dropped. Flower's own
    # count_bytes fails on it, which made the client fail and SecAgg+ halt every round nobody dropped out of.
    import importlib.util

    if importlib.util.find_spec("flwr") is None:
        pytest.skip("Flower is not installed")
    from flwr.common import ArrayRecord, ConfigRecord

    from tinymlkit.federated.flower import record_bytes

    rec = ConfigRecord({"stage": "unmask", "active_node_id_list": [3, 4], "dead_node_id_list": []})
    full = ConfigRecord({"stage": "unmask", "active_node_id_list": [3, 4]})
    assert record_bytes(rec) == full.count_bytes() + len("dead_node_id_list")
    arr = ArrayRecord([np.zeros((3, 2), np.float32)])
    assert record_bytes(arr) == arr.count_bytes()


def test_models_are_scored_on_the_validation_and_test_speakers_with_more_unknown_and_silence(tmp_path):
    # No federated run stops early, so both held-out splits score (a larger test set: one clip moves the
    # score less); unknown words and silence are drawn more often there than in training. Speakers stay disjoint.
    from tinymlkit.audio.wav import write_wav
    from tinymlkit.data.speech_commands import which_set
    from tinymlkit.federated.run import TEST_SILENCE_PERCENTAGE, TEST_UNKNOWN_PERCENTAGE, prepare_data

    rng = np.random.default_rng(0)
    speakers = [f"{i:08x}" for i in range(0x7000, 0x7000 + 12)]
    others = ["cat", "dog", "tree", "wow", "bed", "bird", "house"]  # 7 per speaker: more than 300 % of 2 keywords
    for spk in speakers:
        for w in ("yes", "no", *others):
            write_wav(tmp_path / w / f"{spk}_nohash_0.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32))
    write_wav(tmp_path / "_background_noise_" / "noise.wav", (0.1 * rng.standard_normal(48000)).astype(np.float32))
    where = {s: which_set(f"{s}_nohash_0.wav", 10.0, 10.0) for s in speakers}
    held = sum(1 for s in speakers if where[s] != "training")
    assert {"validation", "testing"} <= set(where.values()) and held < len(speakers)

    fd = prepare_data(tmp_path, progress=False)
    labels = list(fd.task.labels)
    test_counts = np.bincount(fd.y_test, minlength=4)
    assert test_counts[labels.index("yes")] == test_counts[labels.index("no")] == held  # both held-out splits
    assert test_counts[labels.index("unknown")] == int(np.ceil(2 * held * TEST_UNKNOWN_PERCENTAGE / 100))
    assert test_counts[labels.index("silence")] == int(np.ceil(2 * held * TEST_SILENCE_PERCENTAGE / 100))
    train_counts = np.bincount(fd.y, minlength=4)
    n_train = len(speakers) - held
    assert train_counts[labels.index("yes")] == n_train and train_counts[labels.index("unknown")] == 2 * n_train
    assert set(fd.speakers) - {""} == {s for s in speakers if where[s] == "training"}
