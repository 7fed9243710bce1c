"""Wake Vision sample: only N images from parquet shards served on 127.0.0.1, with resume, checksums, no EXIF."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from local_site import LocalSite

pa = pytest.importorskip("pyarrow", reason="pyarrow reads the parquet shards (pip install pyarrow)")
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402

from tinymlkit.data.wake_vision import WakeVisionError, fetch_wake_vision, list_shards  # noqa: E402
from tinymlkit.vision.metadata import demo_exif_with_gps, read_metadata  # noqa: E402


def _jpeg(seed: int, person: int) -> bytes:
    """A textured photo-sized JPEG with phone EXIF including GPS (what a real upload may carry)."""
    rng = np.random.default_rng(seed)
    a = (rng.random((600, 800, 3)) * 255).astype(np.uint8)
    a[:, :, 0] = 200 if person else 30
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=70, exif=demo_exif_with_gps(48.85, 2.35))
    return buf.getvalue()


def _shard(rows: list[tuple[str, int, bytes]]) -> bytes:
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({
        "filename": pa.array([r[0] for r in rows]),
        "person": pa.array([r[1] for r in rows], type=pa.int64()),
        "image": pa.array([{"bytes": r[2], "path": r[0]} for r in rows], type=image_type),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=4)  # many small row groups, as the real shards have many
    return buf.getvalue()


@pytest.fixture
def hub():
    """Two shards of 24 rows each (person every third row) and a listing that names them, on 127.0.0.1."""
    site = LocalSite()
    base = site.base
    shards = {}
    for s in range(2):
        rows = [(f"{s:02d}{i:04d}abcdef.jpg", int(i % 3 == 0), _jpeg(s * 100 + i, int(i % 3 == 0))) for i in range(24)]
        shards[f"/validation/{s:04d}.parquet"] = _shard(rows)
    listing = {"parquet_files": [{"dataset": "Harvard-Edge/Wake-Vision", "config": "default", "split": "validation",
                                  "url": base + path, "filename": path.rsplit("/", 1)[1], "size": len(body)}
                                 for path, body in shards.items()]}
    site.files = {**shards, "/listing": json.dumps(listing).encode()}
    yield base, shards
    site.close()


def test_fetches_only_n_images_balanced_without_metadata(hub, tmp_path: Path) -> None:
    base, shards = hub
    out = tmp_path / "wv"
    rep = fetch_wake_vision(6, out=out, index_url=f"{base}/listing", max_side=200, progress=False)
    assert rep.written == 6 and rep.already_there == 0 and rep.skipped == []
    assert rep.counts == {"non_person": 3, "person": 3}
    files = sorted(out.glob("*/*.jpg"))
    assert len(files) == 6
    for f in files:
        with Image.open(f) as im:
            assert max(im.size) == 200
        assert read_metadata(f) == {}, f  # the source rows carry a GPS position (checked below)
    src = tmp_path / "source.jpg"
    src.write_bytes(_jpeg(1, 1))
    assert "GPSInfo" in read_metadata(src)
    # Only what six images need was fetched: far less than the two shards.
    assert rep.bytes_fetched < 0.6 * sum(len(b) for b in shards.values())
    # Attribution per image, in the CSV and the card.
    rows = list(csv.DictReader((out / "attribution.csv").open()))
    assert len(rows) == 6 and all(r["image_licence"].startswith("CC BY 2.0") for r in rows)
    assert {r["label"] for r in rows} == {"person", "non_person"}
    card = (out / "DATASET_CARD.md").read_text()
    assert all(r["file"] in card for r in rows) and "arXiv:2405.00892" in card


def test_resume_verifies_checksums_and_continues(hub, tmp_path: Path) -> None:
    base, _ = hub
    out = tmp_path / "wv"
    fetch_wake_vision(4, out=out, index_url=f"{base}/listing", progress=False)
    first = sorted(p.name for p in out.glob("*/*.jpg"))
    damaged = sorted(out.glob("person/*.jpg"))[0]
    damaged.write_bytes(b"changed")  # a file altered after it was fetched
    rep = fetch_wake_vision(10, out=out, index_url=f"{base}/listing", progress=False)
    assert rep.already_there == 3
    assert any("SHA-256 differs" in s for s in rep.skipped)
    names = sorted(p.name for p in out.glob("*/*.jpg"))
    assert set(first) <= set(names)
    manifest = json.loads((out / "wake_vision_manifest.json").read_text())
    assert len(manifest["images"]) == rep.written + rep.already_there == 10
    assert rep.counts == {"non_person": 5, "person": 5}
    assert damaged.read_bytes() == b"changed"  # never overwritten: the replacement gets another name


def test_offline_and_wrong_listing_are_clear(hub, tmp_path: Path) -> None:
    base, _ = hub
    with pytest.raises(WakeVisionError, match="needs the network"):
        list_shards("http://127.0.0.1:9/listing")
    with pytest.raises(WakeVisionError, match="no shards for split 'test'"):
        list_shards(f"{base}/listing", split="test")


def test_command_line(hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tinymlkit.cli import main

    base, _ = hub
    rc = main(["data", "wake-vision", "--max-images", "2", "--out", str(tmp_path / "wv"), "--index-url",
               f"{base}/listing"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "2 new and 0 already there (1 person, 1 non_person)" in out
    rc = main(["data", "wake-vision", "--max-images", "2", "--out", str(tmp_path / "wv2"), "--index-url",
               "http://127.0.0.1:9/listing"])
    assert rc == 2 and "tinymlkit: error:" in capsys.readouterr().err
