"""The kit's person detector against the reference person_detect.tflite on the same real photos, side by side.

    python benchmarks/bench_vww_real.py roundtrip [--photos DIR] [--base FILE]
    python benchmarks/bench_vww_real.py finetune  [--photos DIR] [--base FILE] [--seeds 3] [--epochs 10]
    python benchmarks/bench_vww_real.py all

roundtrip: the reference weights loaded into the kit's Keras MobileNetV1, converted back to int8 by the
kit's converter, and both int8 models run on TFLM on every real photo (default: ../shared/data/people_smoke
plus the two reference BMPs). Prints one line per photo and the totals; also the float Keras copy's
agreement with the int8 original, the kit model's size and arena.

finetune: the photos split per label into train / validation / test (60/20/20, one split per seed); the
real base fine-tuned (head first, then all convolutions with frozen batch norms) against the same network
trained from scratch with the same budget, and the untouched reference, all on the held-out test photos.
Medians over seeds. With only ~50 photos this is a smoke-sized measurement: it says which way, not how
far; point --photos at a Wake Vision sample (`tinymlkit data wake-vision --max-images 400`) for more.

Writes benchmarks/results/vww_real_<part>.json.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, median, write  # noqa: E402

LABELS = ("non_person", "person")


def _photos(photos: Path | None, with_bmps: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from tinymlkit.pipelines.vww import load_real_photos
    from tinymlkit.vision.image_io import load_image

    root = photos or SHARED_DATA / "people_smoke"
    p = load_real_photos(root, labels=LABELS)
    x, y, names = p.x, p.y, [str(f.relative_to(root)) for f in p.paths]
    bmp_dir = SHARED_DATA / "tflite_micro_reference" / "person_detection"
    if with_bmps and bmp_dir.is_dir():
        # person.bmp stores int8 input bytes (pixel - 128): flipping the top bit gives the photo back.
        person = load_image(bmp_dir / "person.bmp", channels=1) ^ 0x80
        no_person = load_image(bmp_dir / "no_person.bmp", channels=1)
        x = np.concatenate([x, person[None], no_person[None]])
        y = np.concatenate([y, [1, 0]]).astype(np.int32)
        names += ["reference person.bmp (top bit flipped)", "reference no_person.bmp"]
    return x, y, names


def bench_roundtrip(photos: Path | None, base: Path | None) -> dict[str, Any]:
    """Reference vs the kit's int8 round trip of the same weights, per photo."""
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.evaluate import classification_metrics
    from tinymlkit.models.person_detect_base import person_detect_model, person_detect_path
    from tinymlkit.pipelines.vww import predict_pixels, reference_agreement
    from tinymlkit.runtime import ModelRunner, measure_arena
    from tinymlkit.vision.int8_input import normalize

    path = person_detect_path(base)
    x, y, names = _photos(photos)
    keras_model = person_detect_model(path, progress=False)
    ref = ModelRunner(path, backend="tflm")
    ends = np.stack([np.zeros_like(x[0]), np.full_like(x[0], 255)])
    kit_bytes = to_int8_tflite(keras_model, normalize(np.concatenate([ends, x])), max_samples=len(x) + 2)
    kit = ModelRunner(kit_bytes, backend="tflm")
    raw_ref, raw_kit = predict_pixels(ref, x), predict_pixels(kit, x)
    p_ref, p_kit = ref.from_output(raw_ref)[:, 1], kit.from_output(raw_kit)[:, 1]
    print(f"{'photo':<58} {'label':<10} {'reference':>16} {'kit int8':>16}")
    rows = []
    for i, n in enumerate(names):
        r, k = int(np.argmax(raw_ref[i])), int(np.argmax(raw_kit[i]))
        print(f"{n[:58]:<58} {LABELS[y[i]]:<10} {LABELS[r]:>10} {p_ref[i]:.2f}  {LABELS[k]:>10} {p_kit[i]:.2f}")
        rows.append({"photo": n, "label": LABELS[y[i]], "reference": LABELS[r], "reference_person_score":
                     round(float(p_ref[i]), 4), "kit": LABELS[k], "kit_person_score": round(float(p_kit[i]), 4)})
    m_ref = classification_metrics(y, np.argmax(raw_ref, 1), LABELS)
    m_kit = classification_metrics(y, np.argmax(raw_kit, 1), LABELS)
    arena = measure_arena(kit_bytes).arena_bytes
    agree = reference_agreement(keras_model, ref, x)
    print(f"accuracy: reference {m_ref['accuracy']:.3f} (balanced {m_ref['balanced_accuracy']:.3f});  kit "
          f"{m_kit['accuracy']:.3f} (balanced {m_kit['balanced_accuracy']:.3f});  n = {len(y)}")
    diff = np.abs(p_ref - p_kit)
    print(f"person score, kit vs reference: largest difference {diff.max():.4f}, mean {diff.mean():.4f}; "
          f"decisions that differ: {int(np.sum(np.argmax(raw_ref, 1) != np.argmax(raw_kit, 1)))} of {len(y)} "
          f"(one photo = {100 / len(y):.1f} points)")
    print(f"kit int8: {len(kit_bytes):,} bytes (reference {path.stat().st_size:,}), arena {arena:,} bytes (TFLM); "
          f"float Keras agrees with the int8 original on {agree['same_prediction']}/{agree['n']}")
    return {"photos": str(photos or SHARED_DATA / "people_smoke"), "n": len(y),
            "reference": {k: m_ref[k] for k in ("accuracy", "balanced_accuracy", "per_class", "confusion")},
            "kit_int8": {k: m_kit[k] for k in ("accuracy", "balanced_accuracy", "per_class", "confusion")},
            "accuracy_difference_points": round(100 * (m_kit["accuracy"] - m_ref["accuracy"]), 2),
            "predictions_that_differ": int(np.sum(np.argmax(raw_ref, 1) != np.argmax(raw_kit, 1))),
            "person_score_difference": {"max": round(float(diff.max()), 4), "mean": round(float(diff.mean()), 4)},
            "kit_int8_bytes": len(kit_bytes), "reference_bytes": path.stat().st_size, "kit_arena_bytes": arena,
            "float_keras_vs_int8_original": agree, "per_photo": rows,
            "one_photo_in_points": round(100 / len(y), 2),
            # "Within 1 point of the original": read both ways. On ~55 photos one photo is ~1.8 points, so the
            # two-sided reading only holds when no decision differs; the one-sided one asks that nothing is lost.
            "targets": {"within_1_point": abs(m_kit["accuracy"] - m_ref["accuracy"]) <= 0.01 + 1e-9,
                        "not_below_reference_by_more_than_1_point": m_kit["accuracy"] >= m_ref["accuracy"] - 0.01 - 1e-9,
                        "int8_le_300KB": len(kit_bytes) <= 300 * 1024, "arena_le_100KB": arena <= 100 * 1024}}


def bench_finetune(photos: Path | None, base: Path | None, seeds: int, epochs: int) -> dict[str, Any]:
    """Fine-tuned real base vs scratch vs the untouched reference on held-out real photos, per seed."""
    from tinymlkit.pipelines.vww import RealPhotos, split_photos
    from tinymlkit.pipelines.vww_lesson import real_transfer_vs_scratch

    x, y, names = _photos(photos, with_bmps=False)
    runs = []
    for seed in range(seeds):
        data = split_photos(RealPhotos(x, y, LABELS, tuple(Path(n) for n in names), "real photos"), seed=seed)
        r = real_transfer_vs_scratch(data, epochs=epochs, weights=str(base) if base else "person_detect", seed=seed)
        row = {"seed": seed, "counts": data.counts,
               "reference": r["reference_int8_on_test"]["balanced_accuracy"],
               "fine_tuned": r["real_base"]["test"]["balanced_accuracy"],
               "scratch": r["scratch"]["test"]["balanced_accuracy"],
               "accuracy": {"reference": r["reference_int8_on_test"]["accuracy"],
                            "fine_tuned": r["real_base"]["test"]["accuracy"], "scratch": r["scratch"]["test"]["accuracy"]}}
        print(f"seed {seed}: balanced accuracy on {sum(data.counts['test'].values())} test photos: reference "
              f"{row['reference']:.3f}  fine-tuned real base {row['fine_tuned']:.3f}  scratch {row['scratch']:.3f}")
        runs.append(row)
    med = {k: round(median([r[k] for r in runs]), 4) for k in ("reference", "fine_tuned", "scratch")}
    print(f"median balanced accuracy over {seeds} splits: reference {med['reference']:.3f}, fine-tuned "
          f"{med['fine_tuned']:.3f}, scratch {med['scratch']:.3f}")
    return {"photos": str(photos or SHARED_DATA / "people_smoke"), "epochs": epochs, "runs": runs,
            "median_balanced_accuracy": med}


def main() -> None:
    """Command line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["roundtrip", "finetune", "all"])
    ap.add_argument("--photos", type=Path, help="labelled real photos (default ../shared/data/people_smoke)")
    ap.add_argument("--base", type=Path, help="person_detect.tflite (default: found or downloaded by the kit)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    a = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if a.part in ("roundtrip", "all"):
        write("vww_real_roundtrip", bench_roundtrip(a.photos, a.base))
    if a.part in ("finetune", "all"):
        write("vww_real_finetune", bench_finetune(a.photos, a.base, a.seeds, a.epochs))


if __name__ == "__main__":
    main()
