"""Flower apps for federated keyword spotting, run on Flower's simulation engine (Ray).

The server runs FedAvg (McMahan et al., arXiv 1602.05629) through Flower's ``DefaultWorkflow``; with
``secagg`` its fit step is Flower's ``SecAggPlusWorkflow`` and every client carries Flower's
``secaggplus_mod``: the SecAgg+ protocol of Bell et al. (arXiv 2009.00595) as built into Flower by
Li et al. ("Salvia", arXiv 2205.06117). The server then only ever sees the sum of the masked,
quantised updates, and clients that drop out after sharing their keys are recovered from the
neighbours' secret shares.

Dropout is made real, not pretended: a client chosen to drop out in a round raises inside its fit,
so Flower gets an error reply from it exactly as from a device that went away; FedAvg aggregates the
rest (``accept_failures``) and SecAgg+ reconstructs that client's masks.

Traffic is measured by a client mod (outermost, so it sees what goes over the wire, masked vectors
included) with Flower's own record sizes (``count_bytes``), written to one JSON-lines file per client.

The same ``ServerApp`` and ``ClientApp`` run unchanged on real machines: package them as a Flower app
(``flwr new`` layout, ``pyproject.toml`` naming ``server_app`` and ``client_app``), start a SuperLink
on the server, a SuperNode on each device (``flower-supernode --superlink HOST:9092``, with its
partition given in ``--node-config``), and ``flwr run`` the app. Only where the data come from changes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KitError
from ..slow_imports import SLOW_OPTIONAL_IMPORTS

__all__ = ["FederatedConfig", "flower_available", "client_drops", "make_client_app", "make_server_app",
           "simulate", "SimulationResult", "read_traffic", "ray_import_guard", "ray_init_args", "start_ray",
           "record_bytes"]


@dataclasses.dataclass(frozen=True)
class FederatedConfig:
    """How a federated run is set up."""

    num_clients: int = 8
    """Simulated devices; each holds whole speakers."""
    rounds: int = 10
    """FedAvg rounds."""
    local_epochs: int = 2
    """Passes over its own clips each client makes per round."""
    batch_size: int = 32
    """Clips per local gradient step."""
    learning_rate: float = 0.003
    """Adam learning rate of the local training (a fresh optimizer every round)."""
    model: str = "tiny_conv"
    """Keyword model architecture (``tinymlkit.models``)."""
    partition: str = "speaker"
    """'speaker' (clients are speakers), 'iid' (clips shuffled) or 'label_skew' (each misses a keyword)."""
    dropout: float = 0.0
    """Share of clients that drop out of each round (chosen at random per round, at fit time)."""
    secagg: bool = False
    """Switch Flower's SecAgg+ on (server workflow and client mod)."""
    num_shares: float = 0.75
    """SecAgg+: share of the round's clients each client splits its secret among (Flower's float form)."""
    reconstruction_threshold: float = 0.5
    """SecAgg+: share of those shares needed to rebuild a dropped client's mask."""
    server_optimizer: str = "fedavg"
    """How the server applies the averaged update: 'fedavg' (take it), 'fedavgm' (server momentum, Hsu et al.,
    arXiv 1909.06335) or 'fedadam' (Reddi et al., arXiv 2003.00295); Flower's own strategies."""
    server_learning_rate: float = 1.0
    """Server step size ('fedavgm': on the averaged update; 'fedadam': Adam's eta)."""
    server_momentum: float = 0.9
    """'fedavgm' only: momentum of the server's update."""
    cpus: int = 2
    """CPUs Ray may use (one client runs per CPU)."""
    seed: int = 1234
    """Seed of the initial weights, the partition and the dropout draw."""


def flower_available() -> bool:
    """True where Flower and its simulation extra (Ray) are installed."""
    try:
        from ..tf_quiet import load_tensorflow

        load_tensorflow()  # Flower imports TensorFlow itself where present: load it quietly first
        import flwr  # noqa: F401
        import ray  # noqa: F401
    except Exception:
        return False
    return True


def _require_flower() -> None:
    if not flower_available():
        raise KitError("federated learning needs Flower with its simulation engine: "
                       "pip install \"tinymlkit[advanced]\" (or pip install \"flwr[simulation]\")")


def client_drops(seed: int, client: int, server_round: int, share: float) -> bool:
    """Whether ``client`` drops out of ``server_round``: a repeatable draw with probability ``share``."""
    if share <= 0:
        return False
    h = hashlib.sha256(f"{seed}:{client}:{server_round}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < share


_MODELS: dict[tuple[Any, ...], Any] = {}


def _model(name: str, input_shape: tuple[int, int], num_labels: int) -> Any:
    # One Keras model per process (a Ray actor serves many clients in turn): building it each time
    # would cost more than the local training.
    key = (name, tuple(input_shape), num_labels)
    if key not in _MODELS:
        from ..tf_quiet import load_tensorflow
        tf = load_tensorflow()
        try:  # the two Ray workers share 2 cores: one thread each
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # already initialised in this process
        from ..models import build_kws_model

        _MODELS[key] = build_kws_model(name, input_shape, num_labels)
    return _MODELS[key]


def initial_weights(cfg: FederatedConfig, input_shape: tuple[int, int], num_labels: int) -> list[np.ndarray]:
    """The starting weights every run with this seed shares (central and federated alike)."""
    from ..models import build_kws_model
    from ..train import set_seed

    set_seed(cfg.seed)
    return [np.asarray(w) for w in build_kws_model(cfg.model, input_shape, num_labels).get_weights()]


def local_train(model: Any, weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
                learning_rate: float, seed: int) -> tuple[list[np.ndarray], float]:
    """Plain local training from ``weights``; returns the new weights and the last epoch's loss."""
    import keras

    from ..tf_quiet import drop_known_tf_noise
    from ..train import build_training_state

    keras.utils.set_random_seed(seed)
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy")
    build_training_state(model, x, y)
    with drop_known_tf_noise():
        hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return [np.asarray(w) for w in model.get_weights()], float(hist.history["loss"][-1])


def record_bytes(rec: Any) -> int:
    """Flower's own size of one record (``count_bytes``), also for a config record holding an empty list.

    Flower 1.42's ``ConfigRecord.count_bytes`` fails (IndexError) on an empty list, and SecAgg+'s unmask message
    carries one whenever no neighbour dropped out (its list of dropped clients): counting must not make that
    client fail, which halted every such round's aggregation. An empty list counts its key only.
    """
    from flwr.common import ConfigRecord

    if isinstance(rec, ConfigRecord):
        empty = [k for k, v in rec.items() if isinstance(v, list) and not v]
        if empty:
            rest = ConfigRecord({k: v for k, v in rec.items() if k not in empty})
            return int(rest.count_bytes()) + sum(len(k) for k in empty)
    return int(rec.count_bytes())


def _traffic_mod(folder: str) -> Any:
    def traffic_mod(msg: Any, ctx: Any, call_next: Any) -> Any:
        bytes_in = sum(record_bytes(r) for r in msg.content.values()) if msg.has_content() else 0
        pid = ctx.node_config.get("partition-id", -1)
        stage = ""
        for rec in msg.content.values():  # SecAgg+ names its stage in a config record
            if hasattr(rec, "get") and isinstance(rec.get("stage"), str):
                stage = rec["stage"]

        def log(bytes_out: int, error: bool) -> None:
            line = {"client": int(pid), "round": msg.metadata.group_id, "type": msg.metadata.message_type,
                    "stage": stage, "bytes_in": int(bytes_in), "bytes_out": int(bytes_out), "error": error}
            with open(Path(folder) / f"traffic_{pid}.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")

        try:
            reply = call_next(msg, ctx)
        except Exception:  # the client app failed (a drawn dropout raises): nothing was sent back
            log(0, True)
            raise
        log(sum(record_bytes(r) for r in reply.content.values()) if reply.has_content() else 0,
            not reply.has_content())
        return reply

    return traffic_mod


def make_client_app(partitions: str | os.PathLike[str], cfg: FederatedConfig, input_shape: tuple[int, int],
                    num_labels: int, traffic_dir: str | os.PathLike[str]) -> Any:
    """The ClientApp: a device that trains on its own partition, drops out when drawn, and logs its traffic."""
    from ..tf_quiet import load_tensorflow

    load_tensorflow()
    from flwr.client import ClientApp, NumPyClient
    from flwr.client.mod import secaggplus_mod

    from .partition import load_partition

    folder, tdir = str(partitions), str(traffic_dir)

    class KwsClient(NumPyClient):  # type: ignore[misc]
        def __init__(self, pid: int) -> None:
            self.pid = pid

        def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict]:
            rnd = int(config.get("server_round", 0))
            if client_drops(cfg.seed, self.pid, rnd, cfg.dropout):
                raise RuntimeError(f"client {self.pid} dropped out of round {rnd}")
            d = load_partition(folder, self.pid)
            model = _model(cfg.model, input_shape, num_labels)
            w, loss = local_train(model, parameters, d["x"], d["y"], cfg.local_epochs, cfg.batch_size,
                                  cfg.learning_rate, cfg.seed * 1000 + self.pid * 100 + rnd)
            return w, int(len(d["y"])), {"loss": loss}

    def client_fn(context: Any) -> Any:
        return KwsClient(int(context.node_config["partition-id"])).to_client()

    mods = [_traffic_mod(tdir)] + ([secaggplus_mod] if cfg.secagg else [])
    return ClientApp(client_fn=client_fn, mods=mods)


SERVER_OPTIMIZERS = ("fedavg", "fedavgm", "fedadam")
"""The server-side update rules ``FederatedConfig.server_optimizer`` may name."""


def _server_options(cfg: FederatedConfig) -> dict[str, Any]:
    if cfg.server_optimizer == "fedavgm":
        return {"server_learning_rate": cfg.server_learning_rate, "server_momentum": cfg.server_momentum}
    if cfg.server_optimizer == "fedadam":  # Flower's defaults but eta; eta_l only names the clients' step
        return {"eta": cfg.server_learning_rate, "eta_l": cfg.learning_rate}
    return {}


def _recording_strategy(cfg: FederatedConfig, aggregated: dict[int, tuple[int, int]]) -> Any:
    """Flower's strategy class for ``cfg.server_optimizer``, noting which rounds reached an aggregate."""
    from flwr.server.strategy import FedAdam, FedAvg, FedAvgM

    if cfg.server_optimizer not in SERVER_OPTIMIZERS:
        raise KitError(f"server_optimizer {cfg.server_optimizer!r}: choose one of {', '.join(SERVER_OPTIMIZERS)}")
    base = {"fedavg": FedAvg, "fedavgm": FedAvgM, "fedadam": FedAdam}[cfg.server_optimizer]

    class Recording(base):  # type: ignore[misc, valid-type]
        def aggregate_fit(self, server_round: int, results: list, failures: list) -> Any:
            if results:  # FedAvg leaves the model as it was when no update came
                aggregated[server_round] = (len(results), len(failures))
            return super().aggregate_fit(server_round, results, failures)

    return Recording


def make_server_app(cfg: FederatedConfig, init: list[np.ndarray], evaluate: Any, record: dict[str, Any]) -> Any:
    """The ServerApp: FedAvg over all clients each round, SecAgg+ when asked, central evaluation each round.

    ``evaluate(weights) -> dict`` scores a global model; ``record`` collects per-round scores and
    wall-clock times and the final weights.
    """
    from ..tf_quiet import load_tensorflow

    load_tensorflow()
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    record.setdefault("rounds", [])
    record.setdefault("aggregated", {})
    t_start = [time.perf_counter()]

    def evaluate_fn(server_round: int, weights: list[np.ndarray], config: dict[str, Any]) -> tuple[float, dict]:
        now = time.perf_counter()
        scores = evaluate(weights)
        row = {"round": server_round, "seconds": round(now - t_start[0], 3), **scores}
        if server_round > 0:  # Flower evaluates after every round, also one whose aggregation was halted
            agg = record["aggregated"].get(server_round)
            row["participants"] = agg[0] if agg else 0
            row["failures"] = agg[1] if agg else None
            if agg is None:
                record.setdefault("failed_rounds", []).append(server_round)
        record["rounds"].append(row)
        record["current_round"] = server_round + 1
        record["weights"] = [np.array(w) for w in weights]
        t_start[0] = time.perf_counter()
        return float(scores.get("loss", 0.0)), {k: v for k, v in scores.items() if isinstance(v, (int, float))}

    def fit_metrics(results: list[tuple[int, dict]]) -> dict[str, Any]:
        return {"participants": len(results)}

    strategy = _recording_strategy(cfg, record["aggregated"])(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=2, min_evaluate_clients=0,
        min_available_clients=cfg.num_clients, initial_parameters=ndarrays_to_parameters(init),
        evaluate_fn=evaluate_fn, on_fit_config_fn=lambda r: {"server_round": r},
        fit_metrics_aggregation_fn=fit_metrics, accept_failures=True, **_server_options(cfg))
    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=cfg.rounds), strategy=strategy)
        fit_workflow = (SecAggPlusWorkflow(num_shares=cfg.num_shares,
                                           reconstruction_threshold=cfg.reconstruction_threshold)
                        if cfg.secagg else None)
        workflow = DefaultWorkflow(fit_workflow=fit_workflow) if fit_workflow else DefaultWorkflow()
        t_start[0] = time.perf_counter()
        workflow(grid, legacy)

    return app


@dataclasses.dataclass
class SimulationResult:
    """What one simulated federation did."""

    rounds: list[dict[str, Any]]
    """Per round (0 = the initial model): seconds since the previous evaluation and the global model's scores."""
    weights: list[np.ndarray]
    """The final global model's weights."""
    participants: list[int]
    """Clients whose update reached the aggregate, per round (0: the round reached no aggregate)."""
    failed_rounds: list[int]
    """Rounds that ended without an aggregate (the global model stayed as it was), e.g. SecAgg+ halted."""
    server_errors: list[dict[str, Any]]
    """What Flower's server logged as errors or warnings, with the round they came in."""
    traffic: list[dict[str, Any]]
    """Every client message: client, round, type, SecAgg+ stage, bytes in and out."""
    wall_seconds: float
    """Wall time of the whole simulation, Ray start-up included."""


def read_traffic(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The traffic lines the client mod wrote."""
    rows = []
    for f in sorted(Path(folder).glob("traffic_*.jsonl")):
        rows += [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


_SLOW_IMPORTS = SLOW_OPTIONAL_IMPORTS
"""Optional imports Ray's own helper processes are kept from (:mod:`tinymlkit.slow_imports`): ``import ray``
reaches ``jsonschema``, which loads ``rfc3987_syntax``: 7 of the 9.5 CPU seconds of ``import ray`` here, 17 s
wall at load 10. Ray 2.55's raylet waits a fixed ~15-20 s for its dashboard agent (a fresh Python that imports
ray) to write its port files and aborts when it is late (``Timed out waiting for file
.../metrics_agent_port_...``), and the driver then reports "The current node timed out during startup".
Without it the agent's import took 5.5 s at load 7."""


@contextlib.contextmanager
def ray_import_guard() -> Iterator[None]:
    """While Ray starts: its helper processes skip the slow optional imports in ``_SLOW_IMPORTS``.

    Flower passes this process's ``sys.path`` to Ray's processes through PYTHONPATH when it starts
    Ray, so a folder first on ``sys.path`` whose packages of those names raise ImportError reaches
    them. This process is not affected (it imported Ray already); ``sys.path`` and PYTHONPATH are
    put back afterwards.
    """
    import ray  # noqa: F401  (imported here, with the real packages, before the guard is on the path)

    old_env = os.environ.get("PYTHONPATH")
    with tempfile.TemporaryDirectory(prefix="tinymlkit-ray-") as tmp:
        for name in _SLOW_IMPORTS:
            pkg = Path(tmp) / name
            pkg.mkdir()
            (pkg / "__init__.py").write_text(
                f"raise ImportError('{name} is left out of the Ray processes the kit starts "
                "(tinymlkit.federated.flower._SLOW_IMPORTS)')\n", encoding="utf-8")
        sys.path.insert(0, tmp)
        try:
            yield
        finally:
            if tmp in sys.path:
                sys.path.remove(tmp)
            if old_env is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = old_env


def ray_init_args(cfg: FederatedConfig, verbose: bool = False) -> dict[str, Any]:
    """Arguments Flower passes to ``ray.init``: a small local Ray that starts on a busy 2-core machine."""
    import logging

    return {"num_cpus": cfg.cpus, "num_gpus": 0, "include_dashboard": False,  # the dashboard needs ray[default]
            "logging_level": logging.ERROR, "log_to_driver": verbose,
            "object_store_memory": 80 * 1024 * 1024}  # a tiny model's weights: far less than Ray's 30 % of RAM


RAY_START_ATTEMPTS = 3
"""Times Ray is started before a federation gives up: Ray 2.55's raylet stops when its dashboard agent has not
written its port file within a fixed 15 s (ray-project/ray issue 65983), which a loaded 2-core machine can miss."""


def start_ray(cfg: FederatedConfig, verbose: bool = False, attempts: int = RAY_START_ATTEMPTS) -> None:
    """Start the local Ray that Flower then uses (it starts none of its own when one runs), retrying a late start.

    Call inside :func:`ray_import_guard`; passes this process's ``sys.path`` to Ray's workers as Flower would.
    """
    import ray

    if ray.is_initialized():
        return
    pythonpath = os.pathsep.join(p for p in sys.path if p)
    os.environ["PYTHONPATH"] = pythonpath
    for attempt in range(1, attempts + 1):
        try:
            ray.init(runtime_env={"env_vars": {"PYTHONPATH": pythonpath}}, **ray_init_args(cfg, verbose))
            return
        except Exception as e:  # Ray raises a bare Exception when its node does not come up in time
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt == attempts or "timed out during startup" not in str(e):
                raise KitError(f"Ray (Flower's simulation engine) did not start in {attempt} attempt(s): {e} "
                               "(a busy machine: try again when it is less loaded)") from e
            print(f"tinymlkit: Ray did not start in time (attempt {attempt} of {attempts}); trying again",
                  file=sys.stderr, flush=True)


def simulate(partitions: str | os.PathLike[str], cfg: FederatedConfig, input_shape: tuple[int, int],
             num_labels: int, evaluate: Any, work_dir: str | os.PathLike[str], verbose: bool = False) -> SimulationResult:
    """Run the federation on Flower's simulation engine (Ray, ``cfg.cpus`` CPUs, one per client at a time)."""
    _require_flower()
    import logging

    from flwr.simulation import run_simulation

    tdir = Path(work_dir) / ("traffic_secagg" if cfg.secagg else "traffic")
    tdir.mkdir(parents=True, exist_ok=True)
    for old in tdir.glob("traffic_*.jsonl"):  # our own log of an earlier run in this folder
        old.unlink()
    record: dict[str, Any] = {}
    init = initial_weights(cfg, input_shape, num_labels)
    server = make_server_app(cfg, init, evaluate, record)
    client = make_client_app(partitions, cfg, input_shape, num_labels, tdir)
    backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": ray_init_args(cfg, verbose)}
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no GPUs: silence Ray's FutureWarning
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    if not verbose:
        flwr_logger.setLevel(logging.WARNING)
    errors: list[dict[str, Any]] = []

    class ServerErrors(logging.Handler):  # Flower says why a round halted only in its log: keep it
        def emit(self, rec: logging.LogRecord) -> None:
            msg = rec.getMessage()
            if rec.levelno >= logging.WARNING and "deprecated" not in msg.lower():
                errors.append({"round": record.get("current_round", 1), "level": rec.levelname, "message": msg})

    handler = ServerErrors()
    flwr_logger.addHandler(handler)
    t0 = time.perf_counter()
    try:
        with ray_import_guard():
            start_ray(cfg, verbose)
            run_simulation(server_app=server, client_app=client, num_supernodes=cfg.num_clients,
                           backend_config=backend, verbose_logging=verbose)
    finally:
        flwr_logger.setLevel(level)
        flwr_logger.removeHandler(handler)
    wall = time.perf_counter() - t0
    if "weights" not in record:
        raise KitError("the Flower simulation ended without a global model; run with verbose=True to see why")
    return SimulationResult(record["rounds"], record["weights"],
                            [r["participants"] for r in record["rounds"] if r["round"] > 0],
                            record.get("failed_rounds", []), errors, read_traffic(tdir), round(wall, 2))
