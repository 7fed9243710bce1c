"""Graded kernels forked from a server that has imported the labs' modules (tinymlkit.grading.forked_kernels).

Real kernels throughout: jupyter_client and nbclient start them through the kernel spec the server's folder puts
first on JUPYTER_PATH, exactly as nbgrader's executor does.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

from tinymlkit.grading import forked_kernels as fk

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "pidfd_open"),
                                reason="the kernel fork server needs fork() and Linux")

PROBE = ("import json, os, sys\n"
         "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'cwd': os.getcwd(), 'path0': sys.path[0],\n"
         "    'preloaded': 'numpy' in sys.modules, 'var': os.environ.get('KIT_TEST_VAR'),\n"
         "    'jpy_parent': os.environ.get('JPY_PARENT_PID')}))\n"
         "import numpy as np\n"
         "print(json.dumps({'draw': float(np.random.rand()), 'mark': getattr(np, '_kit_mark', None)}))\n"
         "np._kit_mark = os.getpid()")


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def _run(nb: nbformat.NotebookNode, env: dict[str, str], cwd: Path, timeout: int = 60) -> nbformat.NotebookNode:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def _lines(cell: nbformat.NotebookNode) -> list[dict]:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _children(pid: int) -> list[int]:
    """Living child processes of ``pid`` (read from /proc; zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _start_kernel(srv: fk.KernelForkServer, cwd: Path):
    """A kernel started by jupyter_client's KernelManager through the server's spec; (manager, forked kernel pid)."""
    from jupyter_client.manager import KernelManager

    saved = dict(os.environ)
    os.environ.update(srv.kernel_env(dict(os.environ)))
    try:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(cwd=str(cwd))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    deadline = time.monotonic() + 30
    while not _children(srv.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    (kernel,) = _children(srv.process.pid)
    return km, kernel


@pytest.fixture
def server():
    srv = fk.KernelForkServer(dict(os.environ), modules=("numpy",))
    assert srv.wait_ready(120), (srv.log.read_text() if srv.log.exists() else "no log")
    yield srv
    srv.stop()


def test_each_kernel_is_a_fresh_fork_of_the_server_in_the_notebooks_folder(server, tmp_path):
    env = server.kernel_env({**os.environ, "KIT_TEST_VAR": "given at launch"})
    seen = []
    for _ in range(2):
        nb = _run(_notebook(PROBE), env, tmp_path)
        seen.append(_lines(nb.cells[0]))
    for first, second in seen:
        assert first["ppid"] == server.process.pid, "forked by the server"
        assert first["jpy_parent"] == str(server.process.pid)
        assert first["preloaded"], "numpy was imported by the server before the notebook asked for it"
        assert first["cwd"] == str(tmp_path) and first["path0"] == str(tmp_path)
        assert first["var"] == "given at launch", "the environment is the launching one, not the server's"
        assert second["mark"] is None, "nothing one kernel did is seen by the next"
    assert seen[0][0]["pid"] != seen[1][0]["pid"]
    assert seen[0][1]["draw"] != seen[1][1]["draw"], "numpy's global generator is seeded afresh in each kernel"
    time.sleep(0.5)
    assert _children(server.process.pid) == [], "ended kernels are reaped"


def test_interrupt_reaches_the_forked_kernel_and_a_killed_launcher_takes_it_down(server, tmp_path):
    env = server.kernel_env(dict(os.environ))
    nb = _notebook("import os; print(os.getpid())", "while True:\n    pass")
    with pytest.raises(CellTimeoutError):
        _run(nb, env, tmp_path, timeout=3)
    assert [o.get("ename") for o in nb.cells[1].outputs if o.get("output_type") == "error"] == ["KeyboardInterrupt"]

    # jupyter_client's last resort is SIGKILL on the process it started (the stand-in): the kernel goes too.
    km, kernel = _start_kernel(server, tmp_path)
    try:
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while kernel in _children(server.process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kernel not in _children(server.process.pid)
    finally:
        km.cleanup_resources()


def test_without_a_server_the_stand_in_is_an_ordinary_kernel(tmp_path):
    srv = fk.KernelForkServer(dict(os.environ), modules=())
    assert srv.wait_ready(60)
    spec_folder = tmp_path / "spec"
    shutil.copytree(srv.folder / "kernels", spec_folder / "kernels")
    srv.stop()  # the spec now points at a socket no one serves
    env = {**os.environ, "JUPYTER_PATH": str(spec_folder)}
    nb = _run(_notebook("import os, sys; print(os.getppid(), sys.argv[0])"), env, tmp_path)
    ppid, argv0 = "".join(o.get("text", "") for o in nb.cells[0].outputs).split()
    assert int(ppid) == os.getpid(), "started by this process's kernel manager, as a plain kernel is"
    assert argv0.endswith("ipykernel_launcher.py")


def test_a_server_serves_only_kernels_with_its_import_time_settings():
    base = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    try:
        first = fk.kernel_fork_server(base)
        assert fk.kernel_fork_server({**base, "KIT_TEST_VAR": "x"}) is first, "a variable read later changes nothing"
        second = fk.kernel_fork_server({**base, "OPENBLAS_NUM_THREADS": "2"})
        assert second is not first and not first.alive() and not first.folder.exists()
    finally:
        fk.stop_kernel_fork_server()


def test_the_stand_in_reports_the_kernels_exit_status(server, tmp_path):
    """The stand-in exits as the kernel did (jupyter_client reads the status of the process it started)."""
    conn = tmp_path / "kernel.json"
    conn.write_text("{ not a connection file")
    proc = subprocess.run([sys.executable, "-m", "tinymlkit.grading.forked_kernels", "launch", server.socket_path,
                           "-f", str(conn)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert "Error" in proc.stderr, "the kernel's own error goes to the stand-in's stderr"


def test_kernels_end_with_their_server(tmp_path):
    """A server that dies takes its kernels with it (they watch it as a plain kernel watches its parent)."""
    # ipykernel imported by the server, as in grading: it reads JPY_PARENT_PID at import, before any kernel exists.
    srv = fk.KernelForkServer(dict(os.environ), modules=("ipykernel.kernelapp",))
    assert srv.wait_ready(60)
    km, kernel = _start_kernel(srv, tmp_path)
    try:
        srv.process.kill()
        srv.process.wait()
        deadline = time.monotonic() + 15
        while _alive(kernel) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(kernel), "the orphaned kernel ended"
        deadline = time.monotonic() + 15
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not km.is_alive(), "the stand-in ended with it"
    finally:
        km.cleanup_resources()
        srv.stop()


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
