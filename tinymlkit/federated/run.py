"""Federated keyword spotting end to end: clips -> clients -> central vs FedAvg (Flower) -> int8 on TFLM -> sketch."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..config import KwsRunConfig, KwsTaskConfig, TrainConfig, save_json
from ..data.speech_commands import build_dataset
from ..errors import KitError
from ..evaluate import classification_metrics
from ..files import atomic_path, atomic_write_bytes, atomic_write_text
from ..pipelines import kws
from .flower import FederatedConfig, SimulationResult, initial_weights, local_train, simulate
from .partition import label_histogram, partition_clients, save_partitions, speakers_per_client, split_features

__all__ = ["FederatedData", "prepare_data", "central_baseline", "traffic_summary",
           "run_federated", "format_summary"]



TEST_SPLITS = ("validation", "testing")
"""The speaker splits the models are scored on (no run here uses a validation split to stop early)."""
TEST_UNKNOWN_PERCENTAGE = 300.0
"""Unknown-word clips of the held-out speakers scored, as a percentage of their keyword clips (as many as there are)."""
TEST_SILENCE_PERCENTAGE = 50.0
"""Silence clips scored, as a percentage of the held-out speakers' keyword clips."""


@dataclasses.dataclass
class FederatedData:
    """Features of the training clips (with each clip's speaker) and of the held-out test voices."""

    x: np.ndarray
    """Training features (N, frames, channels)."""
    y: np.ndarray
    """Training labels."""
    speakers: list[str]
    """Speaker of each training clip ('' for made-up silence)."""
    x_test: np.ndarray
    """Test features: speakers no client has (``TEST_SPLITS``)."""
    y_test: np.ndarray
    """Test labels."""
    task: KwsTaskConfig
    """Labels and data drawing."""
    description: str
    """Where the clips came from."""


def prepare_data(data: str | os.PathLike[str] | None, words: tuple[str, ...] = ("yes", "no"), fast: bool = False,
                 seed: int = 0, progress: bool = True) -> FederatedData:
    """Micro features of a Speech Commands style folder (None: the synthetic voices), split by speaker."""
    task = KwsTaskConfig(words=words, unknown_percentage=100.0, silence_percentage=20.0)
    if data is None:
        root = kws.synthetic_keywords(fast, progress)  # the keyword track's set: one recipe per folder
        desc = f"synthetic text-to-speech voices ({root}); clients are voices"
    else:
        root = Path(data)
        desc = f"recorded speakers in {root}; clients are speakers"
    ds = build_dataset(root, task, seed=seed)
    cfg = KwsRunConfig(task=task)
    x, y, spk = split_features(ds, "training", cfg.audio, task, seed)
    # No run here stops early, so the validation speakers score too: twice the held-out speakers of the
    # test split alone, and more unknown-word and silence clips of them (balanced accuracy weighs each class
    # alike), so one clip moves the score less. The speakers stay disjoint from every client's.
    test_task = dataclasses.replace(task, unknown_percentage=TEST_UNKNOWN_PERCENTAGE,
                                    silence_percentage=TEST_SILENCE_PERCENTAGE)
    held_out = build_dataset(root, test_task, seed=seed + 1)
    parts = [split_features(held_out, s, cfg.audio, test_task, seed + 2 + i) for i, s in enumerate(TEST_SPLITS)]
    xt = np.concatenate([p[0] for p in parts])
    yt = np.concatenate([p[1] for p in parts])
    if len(xt) == 0:
        raise KitError(f"{root}: no test clips (held-out speakers); the test split is needed to score the models")
    return FederatedData(x, y, spk, xt, yt, task, desc)


def _scorer(data: FederatedData, model_name: str) -> Any:
    from ..models import build_kws_model

    labels = list(data.task.labels)
    model = build_kws_model(model_name, data.x.shape[1:], len(labels))

    def evaluate(weights: list[np.ndarray]) -> dict[str, Any]:
        model.set_weights(weights)
        p = model.predict(data.x_test, batch_size=512, verbose=0)
        m = classification_metrics(data.y_test, np.argmax(p, axis=1), labels)
        loss = float(-np.mean(np.log(np.clip(p[np.arange(len(p)), data.y_test], 1e-7, 1.0))))
        return {"balanced_accuracy": round(float(m["balanced_accuracy"]), 4), "accuracy": round(float(m["accuracy"]), 4),
                "loss": round(loss, 4)}

    return evaluate


def central_baseline(data: FederatedData, x: np.ndarray, y: np.ndarray, cfg: FederatedConfig,
                     evaluate: Any) -> dict[str, Any]:
    """The same model, the same starting weights and the same clips pooled in one place, for as many epochs
    as one client trains in the whole federation (rounds x local epochs)."""
    from ..models import build_kws_model

    init = initial_weights(cfg, data.x.shape[1:], len(data.task.labels))
    model = build_kws_model(cfg.model, data.x.shape[1:], len(data.task.labels))
    t0 = time.perf_counter()
    w, _ = local_train(model, init, x, y, cfg.rounds * cfg.local_epochs, cfg.batch_size, cfg.learning_rate, cfg.seed)
    return {"seconds": round(time.perf_counter() - t0, 2), "epochs": cfg.rounds * cfg.local_epochs, **evaluate(w),
            "weights": w}


def traffic_summary(sim: SimulationResult) -> dict[str, Any]:
    """Bytes each client sent and received per round (medians over the clients that took part), and messages."""
    per: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: {"out": 0, "in": 0, "messages": 0})
    for t in sim.traffic:
        if t["round"] in ("", "0"):
            continue
        k = (t["client"], t["round"])
        per[k]["out"] += t["bytes_out"]
        per[k]["in"] += t["bytes_in"]
        per[k]["messages"] += 1
    if not per:
        return {"bytes_sent_per_client_round": None, "bytes_received_per_client_round": None,
                "messages_per_client_round": None}
    return {"bytes_sent_per_client_round": int(np.median([v["out"] for v in per.values()])),
            "bytes_received_per_client_round": int(np.median([v["in"] for v in per.values()])),
            "messages_per_client_round": int(np.median([v["messages"] for v in per.values()])),
            "failed_messages": int(sum(1 for t in sim.traffic if t["error"]))}


def _sim_summary(sim: SimulationResult) -> dict[str, Any]:
    last = sim.rounds[-1]
    round_secs = [r["seconds"] for r in sim.rounds if r["round"] > 0]
    return {"balanced_accuracy": last["balanced_accuracy"], "accuracy": last["accuracy"],
            "per_round": [{k: v for k, v in r.items()} for r in sim.rounds],
            "participants_per_round": sim.participants,
            "failed_rounds": sim.failed_rounds, "server_errors": sim.server_errors,
            "median_round_seconds": float(np.median(round_secs)) if round_secs else None,
            "wall_seconds": sim.wall_seconds, **traffic_summary(sim)}


def run_federated(out: str | os.PathLike[str], data: str | os.PathLike[str] | None = None,
                  cfg: FederatedConfig = FederatedConfig(), words: tuple[str, ...] = ("yes", "no"), fast: bool = False,
                  sketch: str | os.PathLike[str] | None = None, variants: tuple[str, ...] = (),
                  progress: bool = True, prepared: FederatedData | None = None) -> dict[str, Any]:
    """Central training vs FedAvg on the same clips; the FedAvg model to int8, scored on TFLM, exported.

    ``variants`` adds more federations on the same data for comparison: 'iid', 'label_skew'
    (partitions), 'dropout' (20 % of clients drop out each round), 'secagg' (SecAgg+ on),
    'secagg_dropout' (both), 'fedavgm' / 'fedadam' (the server's update rule). Returns what metrics.json holds.
    """
    from ..convert import to_int8_tflite
    from ..models import build_kws_model
    from ..runtime import ModelRunner, default_backend

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> None:
        if progress:
            print(f"[federated] {msg}", file=sys.stderr, flush=True)

    say("data")
    fd = prepared or prepare_data(data, words, fast, cfg.seed, progress)
    labels = list(fd.task.labels)
    evaluate = _scorer(fd, cfg.model)
    keyword_ids = tuple(labels.index(w) for w in fd.task.words)

    def federation(name: str, c: FederatedConfig) -> tuple[dict[str, Any], SimulationResult, np.ndarray, np.ndarray]:
        clients = partition_clients(fd.x, fd.y, fd.speakers, c.num_clients, c.partition, keyword_ids, c.seed)
        folder = save_partitions(clients, out / "partitions" / name)
        say(f"FedAvg '{name}': {c.num_clients} clients, {c.rounds} rounds"
            f"{', SecAgg+' if c.secagg else ''}{f', {c.dropout:.0%} dropout' if c.dropout else ''}")
        sim = simulate(folder, c, fd.x.shape[1:], len(labels), evaluate, out / "work")
        if sim.failed_rounds:
            say(f"WARNING '{name}': round(s) {sim.failed_rounds} reached no aggregate: "
                + "; ".join(sorted({e['message'] for e in sim.server_errors})))
        summary = {"config": dataclasses.asdict(c), "label_histogram": label_histogram(clients, len(labels)),
                   "speakers_per_client": speakers_per_client(clients), **_sim_summary(sim)}
        xs = np.concatenate([k.x for k in clients])
        ys = np.concatenate([k.y for k in clients])
        return summary, sim, xs, ys

    results: dict[str, Any] = {}
    main_sum, main_sim, xs, ys = federation("fedavg", cfg)
    results["fedavg"] = main_sum
    say("central training on the same clips")
    central = central_baseline(fd, xs, ys, cfg, evaluate)
    central.pop("weights")
    results["central"] = central
    extra = {"iid": dict(partition="iid"), "label_skew": dict(partition="label_skew"), "dropout": dict(dropout=0.2),
             "secagg": dict(secagg=True), "secagg_dropout": dict(secagg=True, dropout=0.2),
             "fedavgm": dict(server_optimizer="fedavgm"), "fedadam": dict(server_optimizer="fedadam")}
    for v in variants:
        if v not in extra:
            raise KitError(f"unknown variant {v!r}; choose among {', '.join(extra)}")
        results[v] = federation(v, dataclasses.replace(cfg, **extra[v]))[0]

    say("int8 on the board's interpreter")
    model = build_kws_model(cfg.model, fd.x.shape[1:], len(labels))
    model.set_weights(main_sim.weights)
    int8 = to_int8_tflite(model, fd.x)
    backend = default_backend()
    runner = ModelRunner(int8, backend=backend)
    pred = np.argmax(runner.predict_raw(fd.x_test), axis=1)
    m8 = classification_metrics(fd.y_test, pred, labels)
    run_cfg = KwsRunConfig(task=fd.task, train=TrainConfig(model=cfg.model, epochs=cfg.rounds * cfg.local_epochs,
                                                           batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                                                           seed=cfg.seed))
    atomic_write_bytes(out / "model_int8.tflite", int8)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    save_json(run_cfg, out / "config.json")
    metrics: dict[str, Any] = {
        "data": fd.description, "labels": labels, "train_clips": int(len(fd.y)), "test_clips": int(len(fd.y_test)),
        "results": results,
        "fedavg_minus_central": round(results["fedavg"]["balanced_accuracy"] - central["balanced_accuracy"], 4),
        "int8": {"backend": backend, "balanced_accuracy": round(float(m8["balanced_accuracy"]), 4),
                 "model_bytes": len(int8)},
    }
    if sketch is not None:
        from ..export.write import export_model

        res = export_model(out / "model_int8.tflite", out / "config.json", sketch)
        metrics["sketch"] = {"folder": str(sketch), "arena": res.arena_size, "files": [f.name for f in res.files]}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def format_summary(m: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    r = m["results"]
    lines = [f"Federated keyword spotting on {m['data']}",
             f"  test clips (voices no client has): {m['test_clips']}; labels {', '.join(m['labels'])}",
             f"  {'run':<16}{'balanced acc':>13}{'sent/client/round':>20}{'round s':>9}"]
    for name, v in r.items():
        sent = v.get("bytes_sent_per_client_round")
        sec = v.get("median_round_seconds")
        lines.append(f"  {name:<16}{v['balanced_accuracy']:>13.3f}{(f'{sent:,} B' if sent else '-'):>20}"
                     f"{(f'{sec:.1f}' if sec else '-'):>9}")
    for name, v in r.items():
        if v.get("failed_rounds"):
            why = "; ".join(sorted({e["message"] for e in v.get("server_errors", [])
                                    if e["round"] in v["failed_rounds"]})) or "no reason logged"
            lines.append(f"  WARNING {name}: round(s) {v['failed_rounds']} of {v['config']['rounds']} reached no "
                         f"aggregate, the global model stayed as it was ({why})")
    lines.append(f"  FedAvg int8 on {m['int8']['backend']}: {m['int8']['balanced_accuracy']:.3f} "
                 f"({m['int8']['model_bytes']} bytes)")
    return "\n".join(lines)
