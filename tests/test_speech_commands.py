"""Speech Commands: the official hash split against the dataset's own lists, folder reading, task drawing."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.audio.wav import write_wav
from tinymlkit.config import KwsTaskConfig
from tinymlkit.data.speech_commands import build_dataset, label_items, scan_folder, speaker_of, which_set


def test_official_split_reproduces_the_v001_lists(shared_data):
    root = shared_data / "speech_commands_v0.01_sample"
    wrong, total = [], 0
    for split, name in (("validation", "validation_list.txt"), ("testing", "testing_list.txt")):
        for rel in (root / name).read_text().split():
            total += 1
            got = which_set(rel, 10, 10)
            if got != split:
                wrong.append((rel, split, got))
    assert total == 13633
    assert wrong == []


def test_sample_clips_outside_the_lists_are_training(shared_data):
    root = shared_data / "speech_commands_v0.01_sample"
    listed = set((root / "validation_list.txt").read_text().split()) | set((root / "testing_list.txt").read_text().split())
    clips = scan_folder(root)
    assert len(clips) == 300
    for c in clips:
        if c.rel not in listed:
            assert which_set(c.rel, 10, 10) == "training", c.rel


def test_speaker_of_handles_both_layouts():
    assert speaker_of("bed/0a7c2a8d_nohash_0.wav") == "0a7c2a8d"
    assert speaker_of("_unknown_/backward_0cb74144_nohash_2.wav") == "0cb74144"
    # An _unknown_ file hashes like the same speaker's WORD/ file.
    assert which_set("_unknown_/bed_0a7c2a8d_nohash_3.wav", 10, 10) == which_set("bed/0a7c2a8d_nohash_0.wav", 10, 10)


def test_salt_gives_another_speaker_disjoint_split():
    names = [f"yes/{i:08x}_nohash_{k}.wav" for i in range(400) for k in range(2)]
    a = [which_set(n, 10, 10) for n in names]
    b = [which_set(n, 10, 10, salt="x") for n in names]
    assert a != b
    for split in (a, b):
        assert all(split[i] == split[i + 1] for i in range(0, len(names), 2))  # one speaker, one split
        share = split.count("validation") / len(split)
        assert 0.05 < share < 0.15


def test_test_dev_folder_resplits_by_speaker(shared_data):
    root = shared_data / "speech_commands_v0.02_test_dev"
    clips = scan_folder(root)
    speech = [c for c in clips if c.word != "_silence_"]
    assert len(speech) > 2000
    assert all(which_set(c.rel, 10, 10) == "testing" for c in speech)  # it is official test data
    ds = build_dataset(root, KwsTaskConfig(words=("yes", "no")), validate=False)
    assert "re-split" in ds.split_method
    counts = ds.counts()
    assert counts["training"]["yes"] > 100 and counts["testing"]["yes"] > 5
    speakers = {s: {speaker_of(p) for p, _ in ds.items[s] if p is not None} for s in ds.items}
    assert not (speakers["training"] & speakers["testing"])
    assert not (speakers["training"] & speakers["validation"])
    assert len(ds.background) == 6
    assert counts["training"]["silence"] > 0 and counts["training"]["unknown"] > 0


def _make_folder(root, words=("yes", "no", "cat"), speakers=20):
    rng = np.random.default_rng(0)
    for w in words:
        for s in range(speakers):
            write_wav(root / w / f"{s:08x}_nohash_0.wav", rng.standard_normal(16000).astype(np.float32) * 0.01)
    return root


def test_bad_file_is_reported_and_skipped(tmp_path, capsys):
    root = _make_folder(tmp_path / "ds")
    bad = root / "yes" / "deadbeef_nohash_0.wav"
    bad.write_bytes(b"not a wav at all")
    ds = build_dataset(root, KwsTaskConfig(words=("yes", "no")))
    assert len(ds.skipped) == 1 and str(bad) in ds.skipped[0]
    assert "skipped 1 bad file" in capsys.readouterr().err
    n = sum(len(v) for v in ds.items.values())
    assert n > 40


def test_missing_keyword_is_a_clear_error(tmp_path):
    root = _make_folder(tmp_path / "ds", words=("yes", "cat"))
    with pytest.raises(Exception, match=r"no clips for keyword\(s\) \['no'\]"):
        build_dataset(root, KwsTaskConfig(words=("yes", "no")))


def test_label_items_maps_other_words_to_unknown(tmp_path):
    root = _make_folder(tmp_path / "ds", speakers=2)
    write_wav(root / "_silence_" / "s_nohash_0.wav", np.zeros(16000, np.float32))
    items, skipped = label_items(root, ("silence", "unknown", "yes", "no"))
    labels = sorted(y for _, y in items)
    assert labels == [0, 1, 1, 2, 2, 3, 3] and skipped == []
    items, skipped = label_items(root, ("yes", "no"))
    assert len(items) == 4 and len(skipped) == 3


def test_one_bad_background_noise_file_does_not_stop_the_dataset(tmp_path, capsys):
    root = _make_folder(tmp_path / "ds")
    noise = root / "_background_noise_"
    write_wav(noise / "good.wav", np.zeros(32000, np.float32))
    (noise / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt \x08\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00")
    ds = build_dataset(root, KwsTaskConfig(words=("yes", "no")))
    assert len(ds.background) == 1
    assert any("bad.wav" in s for s in ds.skipped)
    assert "bad.wav" in capsys.readouterr().err
