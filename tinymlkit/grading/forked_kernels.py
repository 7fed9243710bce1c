"""Graded kernels forked from a process that has already imported what the labs import.

nbgrader starts a new kernel for every submission (``python -m ipykernel_launcher``), and the lab then
imports numpy, librosa, TensorFlow and Keras in it again: on the development machine that is about a second
for the kernel and 3-4 s for TensorFlow, paid by each of a class's submissions. A *kernel fork server* pays
it once per grading worker: it imports those modules (and runs librosa's compiled functions once), then waits.
Each kernel nbgrader asks for is a ``fork()`` of it that runs ipykernel, so every submission still gets a
process of its own that no other submission ran in; nothing a student's code does reaches the server or
another student's kernel.

How jupyter_client reaches the server without being changed: the grading environment puts a folder first on
``JUPYTER_PATH`` holding a kernel spec named ``python3`` (the name the labs' notebooks ask for). Its command
runs this module's ``launch``: a small stand-in process that hands its standard streams, working directory,
arguments and environment to the server over a Unix socket, forwards the signals jupyter_client sends to the
kernel (interrupt, terminate) to the forked kernel's process group, and exits with the kernel's status. If
jupyter_client kills the stand-in, the server kills the kernel. If the server cannot be reached, the
stand-in becomes an ordinary ``ipykernel_launcher``: grading never depends on it.

    python -m tinymlkit.grading.forked_kernels serve SOCKET [MODULE ...]      # the server (the kit starts it)
    python -m tinymlkit.grading.forked_kernels launch SOCKET -f CONNECTION    # what the kernel spec runs
"""
from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .env import KERNEL_THREAD_VARIABLES

__all__ = ["PRELOAD", "IMPORT_TIME_VARIABLES", "SUPPORTED", "KernelForkServer", "kernel_fork_server",
           "stop_kernel_fork_server"]

PRELOAD = ("numpy", "scipy.signal", "scipy.stats", "librosa", "sklearn.metrics", "matplotlib.pyplot",
           "tensorflow", "keras", "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel")
"""Modules the server imports before the first kernel: what the labs import (a missing one is skipped)."""

IMPORT_TIME_VARIABLES = (*KERNEL_THREAD_VARIABLES, "MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS",
                         "KERAS_BACKEND", "NUMBA_CACHE_DIR")
"""Environment variables the preloaded libraries read once, while they are imported: a server serves only
kernels whose environment has the same values (another set starts another server)."""

_HEADER = struct.Struct("!I")
_STREAMS = 3  # stdin, stdout, stderr
_WAIT_FOR_SERVER_S = 20.0
"""A stand-in waits this long for a server that is still importing, then starts an ordinary kernel (well inside
nbclient's 60-s kernel start-up timeout)."""
_READY_TIMEOUT_S = 600.0  # the grading side waits this long for a server's imports (librosa compiles on a fresh install)


# ----------------------------------------------------------------------------------------------- the server


def _preload(modules: Sequence[str]) -> list[str]:
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - not installed or not importable here: the kernel imports it itself
            continue
        loaded.append(name)
    if "librosa" in loaded:
        try:  # librosa's numba functions compiled (from numba's disk cache) once, not in every kernel
            from ..audio.jit_cache import warm_up

            warm_up()
        except Exception:  # noqa: BLE001 - only a warm-up
            pass
    return loaded


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the kernel stand-in hung up")
        data += chunk
    return data


def _run_kernel(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the kernel the stand-in asked for (never returns)."""
    code = 1
    try:
        os.setsid()  # a process group of its own: signals for this kernel reach it and what it starts
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        # ipykernel read JPY_PARENT_PID when the server imported it; told again, it watches the server (its real
        # parent) and ends if the server does, as a plain kernel ends with the process that started it.
        argv = [*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = ["ipykernel_launcher", *argv]
        sys.path[0] = request["cwd"]  # as `python -m ipykernel_launcher` started in that folder has it
        atexit._clear()  # the server's exit handlers are not this kernel's (one could remove the server's files)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # a fresh process's global generator is seeded afresh
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - the kernel's own crash, printed where the kernel's stderr goes
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # what the kernel registered, run as at a normal exit
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(path: str, modules: Sequence[str]) -> None:
    """The server's loop: preload, listen on ``path``, fork a kernel per request, report each kernel's end."""
    parent = os.getppid()
    _preload(modules)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp_path = f"{path}.{os.getpid()}"
    listener.bind(tmp_path)
    listener.listen(64)
    os.replace(tmp_path, path)  # stand-ins see the socket only once the imports are done
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, ("listen", None))
    kernels: dict[int, tuple[socket.socket, Any]] = {}  # pid -> (stand-in connection, pidfd or None)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    def end(pid: int, status: int | None) -> None:
        conn, pidfd = kernels.pop(pid)
        for obj in (conn, pidfd):
            if obj is not None:
                with contextlib.suppress(KeyError, ValueError):
                    sel.unregister(obj)
        if status is not None:
            with contextlib.suppress(OSError):
                conn.sendall(f"X{status}\n".encode())
        conn.close()
        if pidfd is not None:
            os.close(pidfd)

    while not stopping and os.getppid() == parent:
        for key, _ in sel.select(timeout=1.0):
            kind, pid = key.data
            if kind == "listen":
                conn, _ = listener.accept()
                conn.settimeout(10.0)
                try:
                    msg, fds, _, _ = socket.recv_fds(conn, _HEADER.size, _STREAMS)
                    if len(msg) < _HEADER.size or len(fds) != _STREAMS:
                        raise ConnectionError("malformed request")
                    request = json.loads(_recv_exact(conn, _HEADER.unpack(msg)[0]))
                except (OSError, ValueError, ConnectionError):
                    conn.close()
                    continue
                try:
                    child = os.fork()
                except OSError:  # no process to spare: the stand-in, refused, starts an ordinary kernel
                    for fd in fds:
                        os.close(fd)
                    conn.close()
                    continue
                if child == 0:
                    sel.close()
                    listener.close()
                    for other, other_fd in kernels.values():
                        other.close()
                        if other_fd is not None:
                            os.close(other_fd)
                    conn.close()
                    _run_kernel(request, fds)
                for fd in fds:
                    os.close(fd)
                try:
                    pidfd = os.pidfd_open(child)
                except (AttributeError, OSError):
                    pidfd = None
                kernels[child] = (conn, pidfd)
                try:
                    conn.setblocking(True)
                    conn.sendall(f"P{child}\n".encode())
                except OSError:  # the stand-in is already gone: so is the kernel it asked for
                    with contextlib.suppress(OSError):
                        os.kill(child, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(child, 0)
                    end(child, None)
                    continue
                sel.register(conn, selectors.EVENT_READ, ("stand-in", child))
                if pidfd is not None:
                    sel.register(pidfd, selectors.EVENT_READ, ("exited", child))
            elif kind == "stand-in" and pid in kernels:
                # The stand-in never writes after its request: readable means it is gone (killed): so is its kernel.
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    _, status = os.waitpid(pid, 0)
                end(pid, None)
        while kernels:  # reap every kernel that has ended (with or without a pidfd)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in kernels:
                end(pid, status)
    for pid in list(kernels):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.unlink(path)


# ------------------------------------------------------------------------------------------- the stand-in


def _become_plain_kernel(argv: Sequence[str]) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])


def _connect(path: str) -> socket.socket | None:
    """A connection to the server; waits while its process is alive but still importing; None if none."""
    pid_file = Path(path).with_suffix(".pid")
    deadline = time.monotonic() + _WAIT_FOR_SERVER_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
        try:
            os.kill(int(pid_file.read_text()), 0)
        except (OSError, ValueError):
            return None  # no server (never started, or gone)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def launch(path: str, argv: Sequence[str]) -> None:
    """The stand-in: ask the server for a kernel, pass on signals, exit as the kernel exits."""
    sock = _connect(path)
    if sock is None:
        _become_plain_kernel(argv)
    request = json.dumps({"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        socket.send_fds(sock, [_HEADER.pack(len(request))], [0, 1, 2])
        sock.sendall(request)
        reader = sock.makefile("rb")
        line = reader.readline()
    except OSError:
        line = b""
    if not line.startswith(b"P"):
        sock.close()
        _become_plain_kernel(argv)  # the server went away before forking: an ordinary kernel instead
    kernel = int(line[1:])

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.killpg(kernel, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    try:
        line = reader.readline()  # the kernel's end (signals are forwarded meanwhile; reads resume after them)
    except OSError:
        line = b""
    if not line.startswith(b"X"):
        os._exit(1)  # the server died: its kernels die with it (ipykernel watches its parent)
    status = int(line[1:])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)  # end the way the kernel ended, for jupyter_client
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


# ---------------------------------------------------------------------------------------------- the client


class KernelForkServer:
    """A running kernel fork server and the kernel spec folder that sends jupyter_client's kernels to it."""

    def __init__(self, env: Mapping[str, str], modules: Sequence[str] = PRELOAD) -> None:
        """Start the server with the kernels' environment ``env`` (the imports happen in the background)."""
        self.key = import_time_key(env)
        self.folder = Path(tempfile.mkdtemp(prefix="tinymlkit-kernels-"))
        self.socket_path = str(self.folder / "server.sock")
        spec_dir = self.folder / "kernels" / "python3"
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "tinymlkit.grading.forked_kernels", "launch", self.socket_path,
                         "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel, forked by tinymlkit)", "language": "python",
                "metadata": {"debugger": True}}
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        self.log = self.folder / "server.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tinymlkit.grading.forked_kernels", "serve", self.socket_path, *modules],
                env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.folder)
        Path(self.socket_path).with_suffix(".pid").write_text(str(self.process.pid))

    def kernel_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with this server's kernel spec folder first on ``JUPYTER_PATH``."""
        out = dict(env)
        out["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(self.folder), env.get("JUPYTER_PATH", "")) if p)
        return out

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.process.poll() is None

    def wait_ready(self, timeout: float = _READY_TIMEOUT_S) -> bool:
        """Wait until the server listens (its imports are done); False if it died or the time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.socket_path):
                return True
            if not self.alive():
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the server (its running kernels with it) and remove its folder."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def import_time_key(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The values of :data:`IMPORT_TIME_VARIABLES` in ``env`` (what a server's preloaded imports depend on)."""
    return tuple((k, env.get(k, "")) for k in IMPORT_TIME_VARIABLES)


_SERVER: KernelForkServer | None = None

SUPPORTED = hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "win32"
"""Whether kernels can be forked here (POSIX with fork and descriptor passing); elsewhere they start as usual."""


def kernel_fork_server(env: Mapping[str, str]) -> KernelForkServer:
    """This process's server for kernels with environment ``env``: the running one, or a new one."""
    global _SERVER
    if _SERVER is not None and (_SERVER.key != import_time_key(env) or not _SERVER.alive()):
        _SERVER.stop()
        _SERVER = None
    if _SERVER is None:
        _SERVER = KernelForkServer(env)
        atexit.register(_SERVER.stop)
    return _SERVER


def stop_kernel_fork_server() -> None:
    """Stop this process's server, if any."""
    global _SERVER
    if _SERVER is not None:
        _SERVER.stop()
        _SERVER = None


def main(argv: Sequence[str]) -> None:
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1], argv[2:])
    elif len(argv) >= 2 and argv[0] == "launch":
        launch(argv[1], argv[2:])
    else:
        print("usage: python -m tinymlkit.grading.forked_kernels (serve SOCKET [MODULE ...] | launch SOCKET ARGS...)",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
