"""Visual Wake Words labels from COCO annotations the test writes itself, and the folder it builds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymlkit.cli import main
from tinymlkit.data.vww_coco import CocoError, build_vww_folder, load_coco, vww_labels
from tinymlkit.errors import KitError
from tinymlkit.vision.image_io import load_image

W, H = 200, 100  # image area 20,000 px; 0.5 % of it is 100 px


def _coco() -> dict:
    images = [{"id": i, "file_name": f"COCO_{i:03d}.jpg", "width": W, "height": H} for i in range(1, 9)]
    person, dog = 1, 18
    ann = [
        # 1: person box 11x10 = 110 px = 0.55 % -> person
        {"id": 1, "image_id": 1, "category_id": person, "bbox": [5, 5, 11, 10], "area": 60.0, "iscrowd": 0},
        # 2: exactly 0.5 % (10x10) -> not more than the threshold -> non_person
        {"id": 2, "image_id": 2, "category_id": person, "bbox": [5, 5, 10, 10], "area": 70.0, "iscrowd": 0},
        # 3: below (9x10) -> non_person
        {"id": 3, "image_id": 3, "category_id": person, "bbox": [5, 5, 9, 10], "area": 80.0, "iscrowd": 0},
        # 4: only a crowd region, large -> person by default, non_person without crowds
        {"id": 4, "image_id": 4, "category_id": person, "bbox": [0, 0, 100, 50], "area": 4000.0, "iscrowd": 1},
        # 5: no annotations at all -> non_person
        # 6: a large dog and a small person -> non_person
        {"id": 5, "image_id": 6, "category_id": dog, "bbox": [0, 0, 150, 90], "area": 9000.0, "iscrowd": 0},
        {"id": 6, "image_id": 6, "category_id": person, "bbox": [1, 1, 5, 5], "area": 20.0, "iscrowd": 0},
        # 7: several small people and one large enough -> person
        {"id": 7, "image_id": 7, "category_id": person, "bbox": [1, 1, 4, 4], "area": 10.0, "iscrowd": 0},
        {"id": 8, "image_id": 7, "category_id": person, "bbox": [50, 10, 40, 80], "area": 2500.0, "iscrowd": 0},
        # 8: box above threshold, mask area below it -> differs between box and segmentation areas
        {"id": 9, "image_id": 8, "category_id": person, "bbox": [10, 10, 20, 20], "area": 90.0, "iscrowd": 0},
        # annotation for an image that is not listed: ignored
        {"id": 10, "image_id": 99, "category_id": person, "bbox": [0, 0, 100, 100], "area": 1e4, "iscrowd": 0},
    ]
    cats = [{"id": person, "name": "person", "supercategory": "person"},
            {"id": dog, "name": "dog", "supercategory": "animal"}]
    return {"images": images, "annotations": ann, "categories": cats}


def _labels(**kw) -> dict[int, bool]:
    return {im.image_id: im.person for im in vww_labels(_coco(), **kw)}


def test_paper_rule_with_boxes_and_crowds() -> None:
    assert _labels() == {1: True, 2: False, 3: False, 4: True, 5: False, 6: False, 7: True, 8: True}


def test_threshold_is_a_parameter_and_strict() -> None:
    assert _labels(min_area=0.0055)[1] is False  # 110 px is exactly 0.55 %: not more
    assert _labels(min_area=0.0054)[1] is True
    assert _labels(min_area=0.0049)[2] is True


def test_crowds_can_be_ignored_and_mask_area_used() -> None:
    assert _labels(include_crowd=False)[4] is False
    seg = _labels(area_source="segmentation")
    assert seg[8] is False and seg[1] is False and seg[7] is True and seg[4] is True
    fracs = {im.image_id: im.largest_person_fraction for im in vww_labels(_coco())}
    assert fracs[5] == 0.0 and fracs[7] == pytest.approx(3200 / 20000)


def test_bad_annotation_files(tmp_path: Path) -> None:
    with pytest.raises(CocoError, match="no such annotation file"):
        load_coco(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{\"images\": [")
    with pytest.raises(CocoError, match="broken.json: not valid JSON"):
        load_coco(tmp_path / "broken.json")
    (tmp_path / "captions.json").write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(CocoError, match=r"missing \['categories'\]"):
        load_coco(tmp_path / "captions.json")
    data = _coco()
    data["categories"] = [{"id": 18, "name": "dog"}]
    with pytest.raises(CocoError, match="no category named 'person'"):
        vww_labels(data)


def _write_images(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, 9):
        if i == 3:
            continue  # one image missing from disk
        a = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        a[:, 50:150] = 30 * i  # the centre square gets a flat value per image
        Image.fromarray(a).save(d / f"COCO_{i:03d}.jpg", quality=95)
    (d / "COCO_006.jpg").write_bytes((d / "COCO_006.jpg").read_bytes()[:200])  # truncated


def test_build_folder_writes_labelled_images_at_model_size(tmp_path: Path) -> None:
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(_coco()))
    _write_images(tmp_path / "images")
    rep = build_vww_folder(ann, tmp_path / "images", tmp_path / "vww", 32, 32, 3, progress=False)
    person = sorted(p.name for p in (tmp_path / "vww" / "person").iterdir())
    non = sorted(p.name for p in (tmp_path / "vww" / "non_person").iterdir())
    assert person == ["COCO_001.png", "COCO_004.png", "COCO_007.png", "COCO_008.png"]
    assert non == ["COCO_002.png", "COCO_005.png"]
    assert rep.written == {"person": 4, "non_person": 2}
    assert sorted(f for f, _ in rep.skipped) == ["COCO_003.jpg", "COCO_006.jpg"]
    assert any("no such file" in r for _, r in rep.skipped) and any("truncated" in r for _, r in rep.skipped)
    x = load_image(tmp_path / "vww" / "person" / "COCO_007.png")
    assert x.shape == (32, 32, 3) and abs(int(np.median(x)) - 210) <= 3  # centre crop of image 7
    manifest = json.loads((tmp_path / "vww" / "vww_manifest.json").read_text())
    assert manifest["labels"] == {"person": 4, "non_person": 4} and manifest["min_area"] == 0.005
    # A re-run resumes: nothing is overwritten, nothing new is written.
    before = (tmp_path / "vww" / "person" / "COCO_001.png").stat().st_mtime_ns
    rep2 = build_vww_folder(ann, tmp_path / "images", tmp_path / "vww", 32, 32, 3, progress=False)
    assert rep2.already_there == 6 and rep2.written == {"person": 0, "non_person": 0}
    assert (tmp_path / "vww" / "person" / "COCO_001.png").stat().st_mtime_ns == before


def test_cli_data_vww_coco(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(_coco()))
    _write_images(tmp_path / "images")
    rc = main(["data", "vww-coco", "--annotations", str(ann), "--images", str(tmp_path / "images"),
               "--out", str(tmp_path / "out"), "--size", "24", "--grayscale", "--no-crowd", "--min-area", "0.0049"])
    assert rc == 0
    out = capsys.readouterr()
    assert "wrote 4 person and 2 non_person" in out.out  # crowd image 4 -> non_person; image 2 -> person
    assert (tmp_path / "out" / "non_person" / "COCO_004.png").is_file()
    assert (tmp_path / "out" / "person" / "COCO_002.png").is_file()
    assert load_image(tmp_path / "out" / "person" / "COCO_002.png").shape == (24, 24, 1)
    rc = main(["data", "vww-coco", "--annotations", str(tmp_path / "nope.json"), "--images", str(tmp_path),
               "--out", str(tmp_path / "o2")])
    assert rc == 2 and "nope.json: no such annotation file" in capsys.readouterr().err


def _folder_state(root: Path) -> dict[str, set[str]]:
    return {lab: {p.name for p in (root / lab).iterdir()} for lab in ("person", "non_person")}


def test_rebuild_with_another_rule_leaves_one_consistent_dataset(tmp_path: Path) -> None:
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(_coco()))
    _write_images(tmp_path / "images")
    out = tmp_path / "vww"
    build_vww_folder(ann, tmp_path / "images", out, 32, 32, 3, progress=False)
    # Crowds ignored and a lower threshold: image 4 becomes non_person, image 2 becomes person.
    rep = build_vww_folder(ann, tmp_path / "images", out, 32, 32, 3, min_area=0.0049, include_crowd=False,
                           progress=False)
    state = _folder_state(out)
    assert state["person"] & state["non_person"] == set()
    want = {im.image_id: im.person for im in vww_labels(_coco(), min_area=0.0049, include_crowd=False)}
    for i, person in want.items():
        name = f"COCO_{i:03d}.png"
        if i in (3, 6):  # missing and truncated on disk
            continue
        assert name in state["person" if person else "non_person"], (name, state)
    assert rep.written == {"person": 1, "non_person": 1}  # the two images that moved
    manifest = json.loads((out / "vww_manifest.json").read_text())
    assert manifest["include_crowd"] is False and manifest["min_area"] == 0.0049


def test_file_names_outside_the_images_folder_are_refused(tmp_path: Path) -> None:
    _write_images(tmp_path / "images")
    secret = tmp_path / "secret.jpg"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(secret)
    data = _coco()
    data["images"][0]["file_name"] = "../secret.jpg"
    data["images"][1]["file_name"] = str(secret)
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(data))
    rep = build_vww_folder(ann, tmp_path / "images", tmp_path / "vww", 32, 32, 3, progress=False)
    refused = {f for f, r in rep.skipped if "points outside" in r}
    assert refused == {"../secret.jpg", str(secret)}
    assert "secret.png" not in {n for names in _folder_state(tmp_path / "vww").values() for n in names}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(images={"a": 1}), "'images' is a dict"),
    (lambda d: d["annotations"].append("oops"), "annotation entry 'oops' is not an object"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2]), "4-number 'bbox'"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, "wide", 3]), "is not a number"),
    (lambda d: d["images"][0].update(width="200"), "is not a number"),
    (lambda d: d["categories"].append(7), "category entry 7 is not an object"),
])
def test_malformed_annotations_are_one_clear_error(tmp_path: Path, mutate, message) -> None:
    data = _coco()
    mutate(data)
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(data))
    with pytest.raises(CocoError, match=message):
        vww_labels(load_coco(ann), where=str(ann))


def test_a_folder_holding_other_files_is_refused_and_kept(tmp_path: Path) -> None:
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(_coco()))
    _write_images(tmp_path / "images")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(KitError, match="did not create"):
        build_vww_folder(ann, tmp_path / "images", mine, 32, 32, 3, progress=False)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    build_vww_folder(ann, tmp_path / "images", tmp_path / "vww", 32, 32, 3, progress=False)
    with pytest.raises(KitError, match="holds images of size 32x32x3"):
        build_vww_folder(ann, tmp_path / "images", tmp_path / "vww", 48, 48, 3, progress=False)
    with pytest.raises(KitError, match="--size"):
        build_vww_folder(ann, tmp_path / "images", tmp_path / "v0", 0, 0, 3, progress=False)
