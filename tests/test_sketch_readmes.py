"""Every command the sketch READMEs show works as written.

The shell commands of the READMEs' code blocks are read from the files themselves. The `tinymlkit`
ones run, from the root of a temporary copy of the sketches (with `TINYMLKIT_DATA` pointing into it),
in the order a maker types them; the commands that train a model are checked against the real
argument parser only (training is what tests/test_kws_pipeline.py and tests/test_vww_pipeline.py do).
Models the commands need come from where a maker's would: the committed keyword model for
`runs/mine`, and TFLM's reference person detector, downloaded by `tinymlkit vww get-base` from a server
this test starts on 127.0.0.1 (its `--url` is the one change made to a command), for the others.
Inline `tinymlkit ...` mentions in the prose must name real commands with valid options.
"""
from __future__ import annotations

import functools
import http.server
import re
import shlex
import shutil
import threading
from pathlib import Path

import pytest

from tinymlkit.cli import build_parser, main
from tinymlkit.export.sketches import SKETCHES, sketch_dir

ROOT = Path(__file__).resolve().parents[1]
SKETCHES_DIR = ROOT / "arduino_sketches"
READMES = [SKETCHES_DIR / "README.md", *(sketch_dir(n) / "README.md" for n in SKETCHES)]
TRAINING = {("kws", "run"), ("vww", "run")}
"""Commands that train a model: parsed, not run, here."""


def code_commands(readme: Path) -> list[str]:
    """Shell commands in a README's code blocks (4-space indented or fenced), comments removed, in order."""
    out, fenced = [], False
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            cmd = line.split(" #", 1)[0].strip()
            if cmd and not cmd.startswith("#"):
                out.append(cmd)
    return out


def inline_commands(readme: Path) -> list[str]:
    """`tinymlkit ...` code spans in a README's prose."""
    return re.findall(r"`(tinymlkit [^`]+)`", readme.read_text(encoding="utf-8"))


def _subcommand_path(argv: list[str]) -> tuple[str, ...]:
    words = []
    for w in argv:
        if w.startswith("-"):
            break
        words.append(w)
    return tuple(words[:2])


def test_the_readmes_show_commands():
    cmds = {r.parent.name: [c for c in code_commands(r) if c.startswith("tinymlkit ")] for r in READMES}
    assert len(cmds["kws"]) >= 3 and len(cmds["person_detection"]) >= 3
    assert all(c.startswith("arduino-cli ") or c.startswith("tinymlkit ") or c.startswith("#")
               for r in READMES for c in code_commands(r)), "a code block holds something that is not a command"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_inline_commands_name_real_commands_with_valid_options(readme, capsys):
    parser = build_parser()
    for text in inline_commands(readme):
        words = shlex.split(text)[1:]
        # Prose may leave out required options ("`tinymlkit capture image`"), never name a wrong command or option.
        args = [w for w in words if not (w.startswith("[") or w.endswith("]"))]
        args = ["/dev/null" if w in ("PORT", "M.tflite") else w for w in args]
        capsys.readouterr()
        try:
            ns = parser.parse_args(args)
        except SystemExit as e:
            err = capsys.readouterr().err
            assert e.code == 2 and "arguments are required" in err and "invalid choice" not in err \
                and "unrecognized arguments" not in err, f"{readme}: `{text}` is not a valid tinymlkit command: {err}"
            continue
        assert getattr(ns, "func", None), f"{readme}: `{text}` names no command"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def maker_tree(tmp_path, monkeypatch):
    """A temporary copy of the sketches as a maker's checkout has them; commands run from its root."""
    shutil.copytree(SKETCHES_DIR, tmp_path / "arduino_sketches",
                    ignore=shutil.ignore_patterns("anomaly", "early_exit"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYMLKIT_DATA", str(tmp_path / "datasets"))
    return tmp_path


def _run(readme_cmd: str, replace: dict[str, str] | None = None) -> int:
    argv = shlex.split(readme_cmd)[1:]
    if _subcommand_path(argv) in TRAINING:
        ns = build_parser().parse_args(argv)  # as written; exits on an unknown option
        assert ns.func
        return 0
    for old, new in (replace or {}).items():
        argv = [new if w == old else w for w in argv]
    return main(argv)


@pytest.mark.slow
def test_kws_readme_commands_run_as_written(maker_tree, capsys):
    run = maker_tree / "runs" / "mine"
    run.mkdir(parents=True)
    # The "model you already have": the committed keyword model and its config.
    for f in ("model_int8.tflite", "config.json"):
        shutil.copy(SKETCHES_DIR / "kws" / "model" / f, run / f)
    cmds = [c for c in code_commands(SKETCHES_DIR / "kws" / "README.md") if c.startswith("tinymlkit ")]
    for cmd in cmds:
        assert _run(cmd) == 0, f"`{cmd}` failed: {capsys.readouterr()}"
    out = capsys.readouterr().out
    assert "arduino_sketches/kws: OK" in out
    assert (maker_tree / "arduino_sketches" / "kws" / "model_settings.h").read_text() != ""


@pytest.mark.slow
def test_person_detection_readme_commands_run_as_written(maker_tree, person_detection_dir, capsys):
    reference = person_detection_dir / "person_detect.tflite"
    handler = functools.partial(_Quiet, directory=str(person_detection_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/person_detect.tflite"
        cmds = [c for c in code_commands(SKETCHES_DIR / "person_detection" / "README.md") if c.startswith("tinymlkit ")]
        sketch = maker_tree / "arduino_sketches" / "person_detection"
        assert not (sketch / "model_settings.h").exists()
        # Right after a clone: get-base, export, check-sketch (the first three commands).
        first = cmds[:3]
        assert [shlex.split(c)[1] for c in first] == ["vww", "export", "check-sketch"], first
        assert main([*shlex.split(first[0])[1:], "--url", url]) == 0
        assert (maker_tree / "datasets" / "person_detect" / "data" / "person_detect.tflite").read_bytes() == \
            reference.read_bytes()
        for cmd in first[1:]:
            assert _run(cmd) == 0, f"`{cmd}` failed: {capsys.readouterr()}"
        assert "arduino_sketches/person_detection: OK" in capsys.readouterr().out
        # Then the commands for one's own model, with the reference model standing in for runs/vww.
        run = maker_tree / "runs" / "vww"
        run.mkdir(parents=True)
        shutil.copy(reference, run / "model_int8.tflite")
        shutil.copy(sketch / "model" / "config.json", run / "config.json")
        for cmd in cmds[3:]:
            assert _run(cmd) == 0, f"`{cmd}` failed: {capsys.readouterr()}"
    finally:
        server.shutdown()
        server.server_close()
