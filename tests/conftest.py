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
