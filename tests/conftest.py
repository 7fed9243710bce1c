"""Shared test fixtures: where ../shared/data is, and a skip with the reason where it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TINYMLKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip that says why (a user's clone has no ../shared)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent (only the project's CI and "
                    "developers' machines have ../shared/data); set TINYMLKIT_SHARED_DATA to use another copy")
    return SHARED_DATA


@pytest.fixture(scope="session")
def micro_speech_dir(shared_data: Path) -> Path:
    """The TFLM micro_speech reference clips and models."""
    return shared_data / "tflite_micro_reference" / "micro_speech"


@pytest.fixture(scope="session")
def person_detection_dir(shared_data: Path) -> Path:
    """The TFLM person_detection reference images and model."""
    return shared_data / "tflite_micro_reference" / "person_detection"


# Work order for the two test workers (scripts/test.sh runs `--dist loadgroup --no-loadscope-reorder`): each
# file stays on one worker so its module fixtures are made once, except the notebook runs, which are independent
# and spread over both. xdist hands work out in collection order, so the longest units go first and the two
# workers finish together instead of one running a long file alone at the end.
_LONG_FIRST = (
    "tests/test_labs.py",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[11_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[09_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[15_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[14_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[12_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[13_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode[10_",
    "tests/test_course.py::test_runs_top_to_bottom_in_fast_mode",
    "tests/test_grading.py",
    "tests/test_federated.py",
    "tests/test_anomaly.py",
    "tests/test_person_detect_base.py",
    "tests/test_vww_pipeline.py",
    "tests/test_kws_pipeline.py",
    "tests/test_cli.py",
    "tests/test_kws_real.py",
    "tests/test_compress.py",
    "tests/test_bad_input.py",
    "tests/test_qemu_m4.py",
)


def _rank(nodeid: str) -> int:
    return next((i for i, prefix in enumerate(_LONG_FIRST) if nodeid.startswith(prefix)), len(_LONG_FIRST))


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """Group each file's tests on one worker (each notebook run its own group) and put the long units first."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            own = "test_runs_top_to_bottom_in_fast_mode[" in item.nodeid
            item.add_marker(pytest.mark.xdist_group(item.nodeid if own else item.nodeid.split("::")[0]))
    items.sort(key=lambda item: _rank(item.nodeid))  # stable: each file keeps its own order
    result = yield
    # xdist applies a group by appending "@group" to the test's id; pytest 9.2 made ids immutable, so with it every
    # test silently became its own group and both workers ran the labs' 15-minute fixture. Fail loudly instead.
    if os.environ.get("PYTEST_XDIST_WORKER") and config.getvalue("loadgroup") and items and "@" not in items[0].nodeid:
        raise pytest.UsageError("pytest-xdist's --dist loadgroup does not work with this pytest version "
                                "(groups are ignored); install the versions pyproject.toml pins: bash scripts/setup.sh")
    return result
