"""Run .tflite models the way the board does: the TFLM interpreter, or LiteRT where TFLM is missing.

The ``tflite-micro`` package ships the real TFLM interpreter (Linux x86_64 wheels only); it is the
board's stand-in. LiteRT (``ai-edge-litert``) runs the same models with TFLite's kernels, which are
not always bit-identical to TFLM's (with its reference kernels they agree to +-1 LSB): use it to
compare, not as the answer.

Native interpreters crash the whole process (SIGSEGV) on a damaged flatbuffer instead of raising.
So every model is validated in full first (``tflite_file.validate_model``), and the first load of
each model file is tried in a child process: a crash there becomes a one-line ``ModelLoadError`` naming
the file, and this process never loads a model that crashed one. What TFLM is known to abort on in a
valid model (``tflite_file.tflm_prepare_problem``) is refused in words before it gets that far; bytes the
kit just made are built and run once in a forked child before this process builds them
(``probe_tflm_in_fork``), and ``measure_arena`` runs TFLM in forked children only.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .config import QuantParams
from .errors import KitError
from .tf_quiet import capture_stderr_fd
from .tflite_file import ModelLoadError, model_name, prod, read_model_bytes, read_tflite, require_tflm_can_prepare

__all__ = [
    "RuntimeUnavailable",
    "ModelLoadError",
    "tflm_available",
    "default_backend",
    "quantize",
    "dequantize",
    "ModelRunner",
    "ArenaMeasurement",
    "measure_arena",
    "probe_model",
    "probe_tflm_in_fork",
]

TFLM = "tflm"
LITERT = "litert"
BACKENDS = (TFLM, LITERT)

_warned_fallback = False


class RuntimeUnavailable(KitError, RuntimeError):
    """The requested interpreter is not installed on this machine."""


def tflm_available() -> bool:
    """True when the ``tflite-micro`` interpreter can be imported here."""
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except Exception:  # ImportError, or a wheel built for another CPU
        return False
    return True


def default_backend() -> str:
    """TFLM where available; otherwise LiteRT, saying once that it is not the board's runtime."""
    global _warned_fallback
    if tflm_available():
        return TFLM
    if not _warned_fallback:
        _warned_fallback = True
        print(
            "tinymlkit: the TFLM interpreter (pip package 'tflite-micro', Linux x86_64 only) is not "
            "available here; using the LiteRT interpreter with reference kernels instead. Its int8 "
            "results can differ from the board's by a few LSB.",
            file=sys.stderr,
        )
    return LITERT


def quantize(x: np.ndarray, qp: QuantParams, dtype: Any = np.int8) -> np.ndarray:
    """Real values to integers: floor(x / scale + 0.5) + zero_point, saturated (the sketches' rule)."""
    info = np.iinfo(dtype)
    # float64 division by the float32 scale, then floor(+0.5): the operations the generated C++ runs.
    q = np.floor(np.asarray(x, dtype=np.float64) / np.float64(np.float32(qp.scale)) + 0.5) + qp.zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Integers to real values: scale * (q - zero_point), in float32."""
    return (np.float32(qp.scale) * (np.asarray(q, dtype=np.int32) - qp.zero_point)).astype(np.float32)


_PROBE = """
import json, sys
import numpy as np
from tinymlkit.errors import KitError
try:
    from tinymlkit import runtime
    runtime._in_probe_process = True  # this process is the containment: no forked probe inside it
    r = runtime.ModelRunner(sys.argv[1], backend=sys.argv[2], isolate=False, name=sys.argv[3])
    r.run_raw(np.zeros(r.input_shape, dtype=r.input_dtype))
    print(json.dumps({"ok": True}))
except KitError as e:
    print(json.dumps({"error": str(e)}))
except Exception as e:
    print(json.dumps({"error": f"{sys.argv[3]}: the interpreter could not run the model ({type(e).__name__}: {e})"}))
"""

_probed: dict[tuple[str, str], str | None] = {}
_in_probe_process = False


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def probe_model(data: bytes, backend: str, name: str, timeout: float = 300.0) -> None:
    """Load and run the model once in a child process; a crash or error there is a ``ModelLoadError`` here.

    The answer is kept per model and backend for the life of the process, so each model costs one
    child process (about a second) however many runners are made for it.
    """
    key = (hashlib.sha256(data).hexdigest(), backend)
    if key not in _probed:
        with tempfile.TemporaryDirectory(prefix="tinymlkit-probe-") as tmp:
            path = Path(tmp) / "model.tflite"
            path.write_bytes(data)
            try:
                proc = subprocess.run([sys.executable, "-c", _PROBE, str(path), backend, name], capture_output=True,
                                      text=True, env=_child_env(), timeout=timeout)
            except subprocess.TimeoutExpired:
                raise ModelLoadError(f"{name}: loading the model on {backend} took longer than {timeout:.0f} s") from None
        if proc.returncode != 0:
            how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
            problem: str | None = (f"{name}: the {backend.upper()} interpreter crashed ({how}) loading the model; the "
                                   "file is damaged: export it again from the training run")
        else:
            try:
                answer = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                answer = {"error": f"{name}: no answer from the interpreter check ({proc.stderr.strip()[-200:]})"}
            problem = answer.get("error")
        _probed[key] = problem
    problem = _probed[key]
    if problem:
        raise ModelLoadError(problem.replace("\n", " "))


def probe_tflm_in_fork(data: bytes, name: str, arena_size: int) -> None:
    """Build the model on TFLM and run it once in a forked child; a crash there is a ``ModelLoadError`` here.

    The containment for bytes the kit just made in this process (``probe_model`` starts a fresh
    interpreter process, about a second; a fork costs milliseconds). TFLM aborts on some quantisation
    parameters instead of returning an error; ``tflite_file.tflm_prepare_problem`` refuses those it
    knows in words first, and this catches any it does not. A build that fails with an error is left to
    the caller, which reports it in words. Kept per model for the life of the process.
    """
    key = (hashlib.sha256(data).hexdigest(), f"{TFLM} fork, {arena_size}-byte arena")  # a small arena may crash it
    if key not in _probed:
        from tflite_micro.python.tflite_micro import runtime as tflm

        def build_and_run() -> bool:
            with capture_stderr_fd():
                try:
                    it = tflm.Interpreter.from_bytes(data, arena_size=arena_size)
                    d = it.get_input_details(0)
                    it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
                    it.invoke()
                except Exception:  # noqa: BLE001 - an error, not a crash: the in-process build says it in words
                    return False
            return True

        problem: str | None = None
        try:
            _answer_in_child(build_and_run)
        except _ChildCrashed as e:
            problem = (f"{name}: the TFLM interpreter crashed ({e}) preparing or running the model: TFLM cannot run "
                       "this model (the board would stop the same way)")
        except ModelLoadError as e:
            problem = str(e)
        _probed[key] = problem
    problem = _probed[key]
    if problem:
        raise ModelLoadError(problem)


def unsupported_op(log: str) -> str | None:
    """The op TFLM said it has no kernel for, from its log, or None."""
    import re

    m = re.search(r"Didn't find op for builtin opcode '([^']+)'|Failed to get registration from op code ([\w:]+)", log)
    return (m.group(1) or m.group(2)) if m else None


def _quant_from_details(details: dict[str, Any]) -> QuantParams | None:
    qp = details.get("quantization_parameters") or {}
    scales = qp.get("scales")
    if scales is None or len(scales) == 0:
        scale, zp = details.get("quantization", (0.0, 0))
        return QuantParams(float(scale), int(zp)) if scale else None
    return QuantParams(float(scales[0]), int(qp["zero_points"][0]))


class ModelRunner:
    """One model on one interpreter, taking and giving real (float) values.

    Inputs are quantised with the model's own input scale and zero point, outputs dequantised
    with its output parameters, exactly as the generated sketch code does. The model is validated in
    full before the interpreter sees it, and a model file's first load is tried in a child process
    (``probe_model``), so a damaged file is a ``ModelLoadError`` naming it, never a crash. Bytes (what
    the kit's converter just made) are built and run once on TFLM in a forked child first
    (``probe_tflm_in_fork``, about 40 ms once per model).
    """

    def __init__(self, model: bytes | str | os.PathLike[str], backend: str | None = None,
                 arena_size: int | None = None, name: str | None = None, isolate: bool | None = None) -> None:
        if isolate is None:
            # A file may come from anywhere: its first load is tried in a child process. Bytes are what
            # the kit's converter just made in this process; pass isolate=True for bytes read from elsewhere.
            isolate = not isinstance(model, (bytes, bytearray, memoryview))
        self.name = model_name(model, name)
        self.model_bytes = read_model_bytes(model, self.name)
        self.backend = backend or default_backend()
        if self.backend not in BACKENDS:
            raise KitError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        tm = read_tflite(self.model_bytes, self.name)  # full validation before any interpreter sees the bytes
        if self.backend == TFLM and not tflm_available():
            raise RuntimeUnavailable("the TFLM interpreter ('pip install tflite-micro', Linux x86_64) is not installed")
        if self.backend == TFLM:
            require_tflm_can_prepare(self.model_bytes, self.name)  # what TFLM would abort on, refused in words
        size = arena_size or max(len(self.model_bytes) * 10, 64 * 1024)
        if isolate:
            probe_model(self.model_bytes, self.backend, self.name)
        elif self.backend == TFLM and not _in_probe_process:
            probe_tflm_in_fork(self.model_bytes, self.name, size)
        if self.backend == TFLM:
            from tflite_micro.python.tflite_micro import runtime as tflm

            with capture_stderr_fd() as log:
                try:
                    self._tflm = tflm.Interpreter.from_bytes(self.model_bytes, arena_size=size)
                    failure = None
                except Exception as e:  # RuntimeError, or the wrapper's own checks
                    failure = e
            if failure is not None:
                text = log.read_text(errors="replace")
                op = unsupported_op(text)
                if op:
                    raise ModelLoadError(f"{self.name}: the model uses the op {op}, which TFLM cannot run")
                detail = " ".join(text.split())[:300]
                raise ModelLoadError(f"{self.name}: TFLM could not load the model ({failure}){': ' + detail if detail else ''}")
            in_d, out_d = self._tflm.get_input_details(0), self._tflm.get_output_details(0)
        else:
            try:
                from ai_edge_litert.interpreter import Interpreter, OpResolverType
            except ImportError:
                raise RuntimeUnavailable("the LiteRT interpreter ('pip install ai-edge-litert') is not installed") from None
            try:
                with warnings.catch_warnings(), capture_stderr_fd():
                    warnings.simplefilter("ignore")
                    # Reference kernels are the closest to TFLM's (identical or +-1 LSB).
                    self._lite = Interpreter(model_content=self.model_bytes,
                                             experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
                    self._lite.allocate_tensors()
                in_d, out_d = self._lite.get_input_details()[0], self._lite.get_output_details()[0]
            except Exception as e:  # LiteRT raises ValueError/RuntimeError with multi-line text
                op = unsupported_op(str(e))
                if op:
                    raise ModelLoadError(f"{self.name}: the model uses the op {op}, which LiteRT cannot run") from None
                raise ModelLoadError(f"{self.name}: LiteRT could not load the model ("
                                     f"{' '.join(str(e).split())[:300]})") from None
            self._in_index, self._out_index = in_d["index"], out_d["index"]
        self.model_info = tm
        """The model's validated structure (ops, tensors, quantisation), as ``tflite_file.read_tflite`` gives it."""
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in in_d["shape"])
        self.output_shape: tuple[int, ...] = tuple(int(d) for d in out_d["shape"])
        self.input_dtype = np.dtype(in_d["dtype"])
        self.output_dtype = np.dtype(out_d["dtype"])
        self.input_quant = _quant_from_details(in_d) if self.input_dtype.kind == "i" else None
        self.output_quant = _quant_from_details(out_d) if self.output_dtype.kind == "i" else None

    def check_config(self, config: Any, config_where: str = "the config") -> None:
        """A ``ModelLoadError`` naming both files when the run config is for another model (track, labels, input)."""
        from .tflite_file import require_model_fits_config

        require_model_fits_config(self.model_info, config, self.name, config_where)

    @property
    def num_outputs(self) -> int:
        """Values in the output tensor (classes, for a classifier)."""
        return prod(self.output_shape[1:])

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """One example already in the input dtype (int8 for int8 models); raw output, batch axis dropped."""
        x = np.asarray(x, dtype=self.input_dtype).reshape(self.input_shape)
        if self.backend == TFLM:
            self._tflm.set_input(x, 0)
            self._tflm.invoke()
            return np.array(self._tflm.get_output(0)).reshape(self.output_shape[1:])
        self._lite.set_tensor(self._in_index, x)
        self._lite.invoke()
        return np.array(self._lite.get_tensor(self._out_index)).reshape(self.output_shape[1:])

    def to_input(self, x: np.ndarray) -> np.ndarray:
        """Real values to what the input tensor holds (quantised for an int8 model)."""
        if self.input_quant is not None:
            return quantize(x, self.input_quant, self.input_dtype)
        return np.asarray(x, dtype=self.input_dtype)

    def from_output(self, y: np.ndarray) -> np.ndarray:
        """What the output tensor holds to real values."""
        if self.output_quant is not None:
            return dequantize(y, self.output_quant)
        return np.asarray(y, dtype=np.float32)

    def predict_raw(self, xs: np.ndarray, progress: bool = False, desc: str = "") -> np.ndarray:
        """A batch of real-valued inputs; raw (integer, for int8) outputs, one row per example."""
        xs = np.asarray(xs)
        rows = np.empty((len(xs), self.num_outputs), dtype=self.output_dtype)
        it: Any = range(len(xs))
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=desc or f"{self.backend} inference", unit="ex", leave=False)
        for i in it:
            rows[i] = self.run_raw(self.to_input(xs[i])).reshape(-1)
        return rows

    def predict(self, xs: np.ndarray, progress: bool = False, desc: str = "") -> np.ndarray:
        """A batch of real-valued inputs; dequantised outputs (N, classes) as float32."""
        return self.from_output(self.predict_raw(xs, progress=progress, desc=desc))


@dataclasses.dataclass(frozen=True)
class ArenaMeasurement:
    """The smallest tensor arena TFLM accepted for a model, and how that was found."""

    arena_bytes: int
    """Smallest arena size (bytes, 16-byte steps) with which TFLM allocated and ran the model."""
    method: str
    """How it was measured, in words, for reports."""


_arena_cache: dict[str, ArenaMeasurement] = {}


_PROBE_CHILD_TIMEOUT_S = 120.0
"""Longest a forked arena probe may take (one TFLM allocate-and-invoke takes well under a second)."""


def _in_forked_child() -> None:
    """First thing a forked child does: no garbage collection, no crash report on the console.

    The child inherits the parent's Python objects, TensorFlow's among them, without the threads behind
    them; a garbage collection there can run a finalizer that calls into that runtime and crash the child
    (seen: SIGSEGV while "Garbage-collecting" inside ``Interpreter.from_bytes``), which would pass for a
    crash of TFLM. The child lives for a few probes, so what it leaves uncollected costs nothing.
    """
    import faulthandler
    import gc

    gc.disable()
    faulthandler.disable()


def _fits_in_child(fits: Any, size: int) -> bool:
    """``fits(size)`` in a forked child: a too-small arena that crashes TFLM counts as "does not fit".

    TFLM's kernels do not all check their persistent allocations: FULLY_CONNECTED's Prepare asks the
    arena for its per-channel multipliers (4 bytes per output) and writes to them without a null
    check, so an arena that runs out at exactly that request ends in SIGSEGV instead of an error
    (seen on the anomaly autoencoder, Requested: 1280 for its 320 outputs). The child only answers
    yes or no; the parent already knows a size that fits, so a crash below it means too small.
    """
    if not hasattr(os, "fork"):
        return bool(fits(size)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns on fork with threads
        pid = os.fork()
    if pid == 0:  # child: answer with the exit status, never return into the caller's code
        code = 3
        try:
            _in_forked_child()  # a crash here is an answer ("too small"), not a report for the console
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            code = 0 if fits(size)[0] else 1
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + _PROBE_CHILD_TIMEOUT_S
    while True:  # never wait forever: a child stuck on a lock another thread held at fork time is killed
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise ModelLoadError(f"probing a {size}-byte TFLM arena did not finish within "
                                 f"{_PROBE_CHILD_TIMEOUT_S:.0f} s; run the command again")
        time.sleep(0.005)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) in (0, 1):
        return os.WEXITSTATUS(status) == 0
    if os.WIFSIGNALED(status):
        return False
    raise ModelLoadError(f"probing a {size}-byte TFLM arena failed in a way that is not 'too small' "
                         f"(child exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status})")


def _read_from_child(r: int, pid: int, deadline: float, what: str) -> bytes:
    """One read from a forked child's pipe (empty at its end); past ``deadline`` the child is killed and
    ``ModelLoadError`` says that ``what`` did not finish."""
    import select

    ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise ModelLoadError(f"{what} did not finish within {_PROBE_CHILD_TIMEOUT_S:.0f} s; run the command again")
    return os.read(r, 65536)


def _bisect_in_children(allocates: Any, lo: int, hi: int) -> int:
    """Smallest ``n`` in (lo, hi] with ``allocates(n)`` true (``hi`` known to be), probed in forked children.

    One child runs the whole bisection and reports each probe through a pipe before and after it, so a
    probe that crashes TFLM (see :func:`_fits_in_child`) is known: it counts as "too small" and a new child
    carries on from there. Usually one fork serves every probe instead of one fork per probe.
    """
    if not hasattr(os, "fork"):
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if allocates(mid) else (mid, hi)
        return hi
    while hi - lo > 1:
        r, w = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns on fork with threads
            pid = os.fork()
        if pid == 0:  # child: report every probe, never return into the caller's code
            code = 3
            try:
                os.close(r)
                _in_forked_child()  # a crash here is an answer ("too small"), not a report for the console
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                a, b = lo, hi
                while b - a > 1:
                    mid = (a + b) // 2
                    os.write(w, f"probe {mid}\n".encode())
                    ok = bool(allocates(mid))
                    os.write(w, b"yes\n" if ok else b"no\n")
                    a, b = (a, mid) if ok else (mid, b)
                code = 0
            except BaseException:
                code = 3
            finally:
                os._exit(code)
        os.close(w)
        pending: int | None = None
        buf = b""
        deadline = time.monotonic() + _PROBE_CHILD_TIMEOUT_S
        try:
            while True:
                chunk = _read_from_child(r, pid, deadline, "probing TFLM arenas")
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"probe "):
                        pending = int(line.split()[1])
                    elif pending is not None:
                        lo, hi = (lo, pending) if line == b"yes" else (pending, hi)
                        pending = None
                        deadline = time.monotonic() + _PROBE_CHILD_TIMEOUT_S
        finally:
            os.close(r)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and pending is not None:
            lo = pending  # TFLM crashed on an arena this size: too small (a larger one is known to work)
        elif not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise ModelLoadError("probing TFLM arenas failed in a way that is not 'too small' (child exit status "
                                 f"{os.WEXITSTATUS(status) if os.WIFEXITED(status) else status})")
    return hi


class _ChildCrashed(Exception):
    """The forked child died by a signal (or gave no answer) instead of answering."""


def _answer_in_child(call: Any) -> Any:
    """``call()`` in a forked child, its JSON answer sent back through a pipe; a crash there is ``_ChildCrashed``.

    For the first build of a model whose arena is not known yet: TFLM may abort or crash on it (see
    ``tflite_file.tflm_prepare_problem``), and that must not take this process down. An exception in
    the child comes back as ``ModelLoadError`` with its text. Costs a fork (about 15 ms with TensorFlow loaded).
    """
    if not hasattr(os, "fork"):
        return call()
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns on fork with threads
        pid = os.fork()
    if pid == 0:  # child: answer through the pipe, never return into the caller's code
        code = 3
        try:
            os.close(r)
            _in_forked_child()  # the parent reports a crash here in words
            try:
                answer = {"answer": call()}
            except KitError as e:
                answer = {"error": str(e)}
            except Exception as e:  # noqa: BLE001 - sent to the parent, which reports it
                answer = {"error": f"{type(e).__name__}: {e}"}
            os.write(w, json.dumps(answer).encode())
            code = 0
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    buf = b""
    deadline = time.monotonic() + _PROBE_CHILD_TIMEOUT_S
    try:
        while True:
            chunk = _read_from_child(r, pid, deadline, "building the model on TFLM")
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise _ChildCrashed(signal.Signals(os.WTERMSIG(status)).name)
    try:
        answer = json.loads(buf.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _ChildCrashed(f"exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status}") from None
    if "error" in answer:
        raise ModelLoadError(answer["error"])
    return answer["answer"]


def measure_arena(model: bytes | str | os.PathLike[str], upper: int = 4 * 1024 * 1024,
                  name: str | None = None) -> ArenaMeasurement:
    """Find the smallest arena with which the TFLM interpreter allocates and invokes the model.

    TFLM runs only in forked children (the first, full-size build too: a model TFLM aborts or crashes on
    is a ``ModelLoadError`` here), after the full validation and the checks of what TFLM is known to abort
    on (``tflite_file.require_tflm_can_prepare``). ``inspect.measure_arena_isolated`` runs all of it in a
    fresh process, for a file from elsewhere. Kept per model for the process's life.
    """
    where = model_name(model, name)
    data = read_model_bytes(model, where)
    key = hashlib.sha256(data).hexdigest()
    if key in _arena_cache:
        return _arena_cache[key]
    read_tflite(data, where)
    require_tflm_can_prepare(data, where)
    if not tflm_available():
        raise RuntimeUnavailable("measuring the arena needs the TFLM interpreter ('pip install tflite-micro', Linux x86_64)")
    from tflite_micro.python.tflite_micro import runtime as tflm

    def fits(size: int) -> tuple[bool, str]:
        with capture_stderr_fd() as log:
            try:
                it = tflm.Interpreter.from_bytes(data, arena_size=size)
                d = it.get_input_details(0)
                it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
                it.invoke()
                ok = True
            except RuntimeError:
                ok = False
            except Exception as e:  # a damaged flatbuffer fails inside the wrapper in other ways
                raise ModelLoadError(f"{where}: TFLM could not read the model ({type(e).__name__}: {e})") from None
        return ok, ("" if ok else log.read_text(errors="replace"))

    try:
        ok, text = _answer_in_child(lambda: fits(upper))
    except _ChildCrashed as e:
        raise ModelLoadError(f"{where}: the TFLM interpreter crashed ({e}) building the model with a {upper:,}-byte "
                             "arena: TFLM cannot run this model (the board would stop the same way)") from None
    if not ok:
        op = unsupported_op(text)
        if op:
            raise ModelLoadError(f"{where}: the model uses the op {op}, which TFLM cannot run")
        if "Requested" in text or "resize buffer" in text.lower() or "arena" in text.lower():
            raise ModelLoadError(f"{where}: the model needs more than a {upper:,}-byte tensor arena, far beyond a "
                                 "microcontroller's RAM")
        detail = " ".join(text.split())[:300]
        raise ModelLoadError(f"{where}: TFLM could not run the model{': ' + detail if detail else ''}")
    def allocates(units: int) -> bool:
        try:
            tflm.Interpreter.from_bytes(data, arena_size=units * 16)
            return True
        except RuntimeError:
            return False

    # Every arena allocation happens while the interpreter is built (AllocateTensors, each kernel's Prepare), so
    # the bisection builds interpreters only (0.5 s for a DS-CNN, against 5 s when each probe also runs it); the
    # size found is then run once, and only if that failed would the slower allocate-and-run bisection follow.
    hi = _bisect_in_children(allocates, 0, upper // 16)  # in 16-byte units
    if not _fits_in_child(fits, hi * 16):
        hi = _bisect_in_children(lambda units: fits(units * 16)[0], hi, upper // 16)
    result = ArenaMeasurement(
        arena_bytes=hi * 16,
        method=("bisection on the tflite-micro Python interpreter (64-bit host): smallest arena, in "
                "16-byte steps, that allocates the tensors, checked by running one inference; a 32-bit "
                "Cortex-M needs slightly less for the interpreter's own structures"),
    )
    _arena_cache[key] = result
    return result
