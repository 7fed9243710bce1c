"""Data minimisation with numbers: person-detector balanced accuracy vs detail kept, per on-device obfuscation.

    python benchmarks/bench_privacy.py [--photos DIR] [--model person_detect.tflite]

Default: the 53 real photos of ../shared/data/people_smoke and the reference person_detect.tflite,
scored on the TFLM interpreter. Too few photos to rank close levels (one photo is ~2 points): read the
curve's shape, not the third digit.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--photos", type=Path, default=SHARED_DATA / "people_smoke")
    ap.add_argument("--model", type=Path,
                    default=SHARED_DATA / "tflite_micro_reference" / "person_detection" / "person_detect.tflite")
    args = ap.parse_args()

    from tinymlkit.pipelines.vww import load_real_photos
    from tinymlkit.privacy.minimise import minimisation_study

    photos = load_real_photos(args.photos, labels=("non_person", "person"))
    rows = minimisation_study(photos.x, photos.y, args.model, backend="tflm")
    print(f"{'obfuscation':<12}{'level':>7}{'balanced':>10}{'person':>8}{'non-pers':>10}{'PNG bytes':>11}")
    for r in rows:
        print(f"{r.kind:<12}{r.level:>7g}{r.balanced_accuracy:>10.3f}{r.person_recall:>8.3f}"
              f"{r.non_person_recall:>10.3f}{r.detail_bytes:>11.0f}")
    write("privacy_minimisation", {"photos": str(args.photos), "n": int(len(photos.y)),
                                   "persons": int(photos.y.sum()), "rows": [dataclasses.asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
