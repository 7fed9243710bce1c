"""VWW from COCO over the network, against an annotation zip and images served on 127.0.0.1."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from local_site import LocalSite
from PIL import Image

from tinymlkit.cli import main
from tinymlkit.data.download import RemoteFile
from tinymlkit.data.vww_coco import vww_labels
from tinymlkit.data.vww_coco_fetch import choose_balanced, fetch_vww_coco
from tinymlkit.errors import KitError
from tinymlkit.vision.image_io import load_image
from tinymlkit.vision.metadata import demo_exif_with_gps, read_metadata

W, H = 160, 120
N_IMAGES = 12  # ids 1..12; odd ids hold a person box of 30 % of the image, even ids a dog only


def _jpeg(i: int) -> bytes:
    """A phone-like JPEG with GPS in its EXIF; person images are bright, the others dark."""
    a = (np.random.default_rng(i).random((H, W, 3)) * 60).astype(np.uint8)
    a += 180 if i % 2 else 20
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=80, exif=demo_exif_with_gps(48.85, 2.35))
    return buf.getvalue()


def _coco(base: str) -> dict:
    images = [{"id": i, "file_name": f"COCO_val2014_{i:012d}.jpg", "width": W, "height": H, "license": 1 + i % 2,
               "coco_url": f"{base}/val2014/COCO_val2014_{i:012d}.jpg",
               "flickr_url": f"http://farm.example/{i}.jpg"} for i in range(1, N_IMAGES + 1)]
    ann = []
    for i in range(1, N_IMAGES + 1):
        cat, box = (1, [10, 10, 80, 72]) if i % 2 else (18, [0, 0, 150, 110])
        ann.append({"id": 100 + i, "image_id": i, "category_id": cat, "bbox": box, "area": 1000.0, "iscrowd": 0})
    return {"info": {"description": "test"}, "images": images, "annotations": ann,
            "licenses": [{"id": 1, "name": "Attribution License", "url": "http://creativecommons.org/licenses/by/2.0/"},
                         {"id": 2, "name": "Attribution-NonCommercial License",
                          "url": "http://creativecommons.org/licenses/by-nc/2.0/"}],
            "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]}


@pytest.fixture
def coco_site():
    """COCO's two addresses on 127.0.0.1: the annotation zip and one file per image."""
    site = LocalSite()
    base = site.base
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("annotations/instances_val2014.json", json.dumps(_coco(base)))
        z.writestr("annotations/captions_val2014.json", "{}")
    zip_bytes = buf.getvalue()
    site.files = {"/annotations/annotations_trainval2014.zip": zip_bytes,
                  **{f"/val2014/COCO_val2014_{i:012d}.jpg": _jpeg(i) for i in range(1, N_IMAGES + 1)}}
    remote = RemoteFile(f"{base}/annotations/annotations_trainval2014.zip", hashlib.sha256(zip_bytes).hexdigest(),
                        len(zip_bytes))
    yield site, remote
    site.close()


def _image_requests(site: LocalSite) -> list[str]:
    return [p for p in site.hits if p.startswith("/val2014/")]


def test_fetches_only_n_images_half_person_without_metadata(coco_site, tmp_path: Path) -> None:
    site, remote = coco_site
    rep = fetch_vww_coco(4, out=tmp_path / "vww", cache=tmp_path / "cache", annotations=remote, size=32,
                         progress=False)
    assert rep.chosen == {"person": 2, "non_person": 2} and rep.downloaded == 4 and not rep.failed
    assert len(_image_requests(site)) == 4  # only the drawn images were fetched, not all 12
    person = sorted((tmp_path / "vww" / "person").glob("*.png"))
    others = sorted((tmp_path / "vww" / "non_person").glob("*.png"))
    assert len(person) == 2 and len(others) == 2
    # The VWW rule put the bright (person) pictures in person/, and only metadata-free pixels were written.
    ids = [int(p.stem.rsplit("_", 1)[1]) for p in person + others]
    assert all(i % 2 == 1 for i in ids[:2]) and all(i % 2 == 0 for i in ids[2:])
    assert load_image(person[0]).mean() > 150 and load_image(others[0]).mean() < 100
    assert load_image(person[0]).shape == (32, 32, 3)
    assert "GPSInfo" in read_metadata(next((tmp_path / "cache" / "val2014").glob("*.jpg")))  # the download had it
    for p in person + others:
        assert read_metadata(p) == {}, p
    # Every image's licence, as COCO's file records it.
    rows = list(csv.DictReader(open(tmp_path / "vww" / "attribution.csv", encoding="utf-8")))
    assert len(rows) == 4
    by_id = {int(r["coco_id"]): r for r in rows}
    for i, r in by_id.items():
        assert r["image_licence"] == ("Attribution-NonCommercial License" if i % 2 else "Attribution License")
        assert r["flickr_url"] == f"http://farm.example/{i}.jpg"
        assert (tmp_path / "vww" / r["file"]).is_file()


def test_rerun_resumes_and_more_images_keep_the_first_ones(coco_site, tmp_path: Path) -> None:
    site, remote = coco_site
    kw = dict(out=tmp_path / "vww", cache=tmp_path / "cache", annotations=remote, size=32, progress=False)
    fetch_vww_coco(4, **kw)
    first = {p.name for p in (tmp_path / "vww").rglob("*.png")}
    zips = [p for p in site.hits if p.endswith(".zip")]
    again = fetch_vww_coco(4, **kw)
    assert again.downloaded == 0 and again.already_there == 4
    assert [p for p in site.hits if p.endswith(".zip")] == zips  # the zip is not fetched twice
    # A damaged cached image is noticed by its checksum and fetched again.
    cached = sorted((tmp_path / "cache" / "val2014").glob("*.jpg"))[0]
    cached.write_bytes(cached.read_bytes()[:100])
    fixed = fetch_vww_coco(4, **kw)
    assert fixed.downloaded == 1 and fixed.already_there == 3
    more = fetch_vww_coco(8, **kw)
    assert more.chosen == {"person": 4, "non_person": 4} and more.downloaded == 4
    assert first <= {p.name for p in (tmp_path / "vww").rglob("*.png")}


def test_one_bad_image_never_loses_the_batch(coco_site, tmp_path: Path) -> None:
    site, remote = coco_site
    base = site.base
    drawn = choose_balanced(vww_labels(_coco(base)), 6, seed=0)
    missing, html = drawn[0].file_name, drawn[1].file_name
    del site.files[f"/val2014/{missing}"]  # 404
    site.files[f"/val2014/{html}"] = b"<html>rate limited</html>"  # a page, not an image
    rep = fetch_vww_coco(6, out=tmp_path / "vww", cache=tmp_path / "cache", annotations=remote, size=32,
                         progress=False)
    assert rep.downloaded == 4 and len(rep.failed) == 2
    assert any(missing in f and "404" in f for f in rep.failed), rep.failed
    assert any(html in f for f in rep.failed), rep.failed
    assert len(list((tmp_path / "vww").rglob("*.png"))) == 4
    assert not (tmp_path / "cache" / "val2014" / html).exists()


def test_bad_archive_and_bad_arguments_are_one_clear_error(coco_site, tmp_path: Path) -> None:
    site, remote = coco_site
    wrong = dataclasses.replace(remote, sha256="0" * 64)
    with pytest.raises(KitError, match="checksum mismatch"):
        fetch_vww_coco(4, out=tmp_path / "a", cache=tmp_path / "c1", annotations=wrong, progress=False)
    with pytest.raises(KitError, match="holds no annotations/instances_train2014.json"):
        fetch_vww_coco(4, out=tmp_path / "b", cache=tmp_path / "c2", annotations=remote, split="train2014",
                       progress=False)
    with pytest.raises(KitError, match="--split"):
        fetch_vww_coco(4, out=tmp_path / "b", cache=tmp_path / "c2", annotations=remote, split="test2015")
    with pytest.raises(KitError, match="at least 2"):
        fetch_vww_coco(1, out=tmp_path / "b", cache=tmp_path / "c2", annotations=remote)
    with pytest.raises(KitError, match="--size"):  # refused before anything is downloaded
        fetch_vww_coco(4, out=tmp_path / "b", cache=tmp_path / "c3", annotations=remote, size=4000)
    assert not (tmp_path / "c3").exists()


def test_command_line(coco_site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    site, remote = coco_site
    base = site.base
    monkeypatch.setenv("TINYMLKIT_DATA", str(tmp_path / "data"))
    rc = main(["data", "vww-coco", "--max-images", "4", "--annotations-url", remote.url, "--images-url", base,
               "--size", "24", "--grayscale"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "2 person and 2 non_person images drawn from COCO val2014 (4 downloaded" in out.out
    made = tmp_path / "data" / "vww" / "data" / "coco_val2014"
    assert len(list(made.rglob("*.png"))) == 4 and (made / "attribution.csv").is_file()
    assert load_image(next(made.rglob("*.png"))).shape == (24, 24, 1)
    rc = main(["data", "vww-coco", "--max-images", "4", "--annotations", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("tinymlkit: error: --max-images") and err.count("\n") == 1
    rc = main(["data", "vww-coco", "--images", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "needs --annotations, --out" in err and err.count("\n") == 1
