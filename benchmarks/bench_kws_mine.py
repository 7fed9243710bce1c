"""Make it mine: how many of a speaker's own clips per word it takes to adapt a keyword model to that speaker.

    python benchmarks/bench_kws_mine.py [--base RUN] [--speakers 6] [--k 1,3] [--epochs 10] [--seed 1234]
                                        [--repeat R] [--control] [--tag T]

The stand-in for "a learner records their own keywords": a real speaker of ../shared's Speech Commands
test clips who has at least 5 clips of "yes" and of "no". For each such speaker and each k:

* ``mine``: the speaker's first k clips of yes and of no (only keywords, as a learner records them);
* ``held``: the speaker's other yes/no clips, and every clip of another word by the same speaker as
  ``unknown`` (what the board must not fire on when this person talks);
* the base model (the main job's model, synthetic voices only: ``run_kws`` on the offline set, or
  ``--base RUN``) fine-tuned with ``tinymlkit kws run --data mine --init BASE`` (the base data mixed in,
  so unknown and silence are not forgotten), int8 on TFLM.

Base and fine-tuned are scored on the same held-out clips of that speaker: balanced accuracy over
yes/no/unknown, yes and no recall, unknown false accepts. Medians over speakers per k.

Levers: ``--repeat R`` puts each own clip R times into ``mine`` (each copy is perturbed on its own), so a
few own clips weigh more among the thousands of base clips. ``--control`` also fine-tunes on the base
data alone (no own clip, same epochs) and scores it on the same held-out clips: how much of the gain is
the speaker's own clips and how much is only more training.
Writes benchmarks/results/kws_mine[_TAG].json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, write  # noqa: E402

WORDS = ("yes", "no")


def _speaker_clips(data: Path) -> dict[str, dict[str, list[Path]]]:
    """speaker -> folder -> clips ('_unknown_' clips are named WORD_SPEAKER_nohash_N.wav)."""
    out: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for folder in sorted(p for p in data.iterdir() if p.is_dir() and p.name not in ("_background_noise_", "_silence_")):
        for f in sorted(folder.glob("*.wav")):
            parts = f.name.split("_")
            speaker = parts[1] if folder.name == "_unknown_" else parts[0]
            out[speaker][folder.name].append(f)
    return out


def _link(files: list[Path], folder: Path, repeat: int = 1) -> None:
    """Symlink clips into a folder (``repeat`` links each); another word's clip gets the WORD_ prefix
    '_unknown_' clips carry."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        name = f.name if f.parent.name in ("_unknown_", folder.name) else f"{f.parent.name}_{f.name}"
        for r in range(repeat):
            (folder / (name if r == 0 else f"{Path(name).stem}_copy{r}.wav")).symlink_to(f)


def _short(m: dict) -> dict:
    pc = m["per_class"]
    return {"balanced_accuracy": round(m["balanced_accuracy"], 4), "yes": pc.get("yes"), "no": pc.get("no"),
            "unknown": pc.get("unknown"), "unknown_false_accept_rate": m.get("unknown_false_accept_rate"),
            "n": m["n"], "support": m["support"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="a kws run folder to start from (default: train the main job's model)")
    ap.add_argument("--speakers", type=int, default=6, help="speakers with >= 5 clips of yes and of no")
    ap.add_argument("--k", default="1,3", help="own clips per word (comma-separated)")
    ap.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs (early stopping on validation)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="links of each own clip in the fine-tuning data")
    ap.add_argument("--control", action="store_true",
                    help="also fine-tune on the base data alone (no own clip) and score it the same way")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    data = SHARED_DATA / "speech_commands_v0.02_test_dev"
    if not data.is_dir():
        sys.exit(f"skipped: {data} is absent (it ships only with the project's ../shared folder)")

    from tinymlkit.evaluate import score_folder
    from tinymlkit.pipelines.kws import load_run, run_kws

    ks = [int(k) for k in args.k.split(",")]
    by_speaker = _speaker_clips(data)
    eligible = sorted((s for s, f in by_speaker.items() if all(len(f.get(w, [])) >= 5 for w in WORDS)),
                      key=lambda s: (-min(len(by_speaker[s][w]) for w in WORDS), s))[:args.speakers]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        base = load_run(args.base) if args.base else run_kws(tmp / "base", seed=args.seed, progress=False,
                                                             threads=args.threads)
        base_s = round(time.perf_counter() - t0, 1)
        labels, audio = base.config.labels, base.config.audio
        base_roots = [Path(r) for r in base.metrics["task"]["data_roots"]]
        print(f"base: {base.metrics['trained_on']} ({base_s} s)", flush=True)
        rows = []
        for speaker in eligible:
            clips = by_speaker[speaker]
            others = [f for folder, files in clips.items() if folder not in WORDS for f in files]
            for k in ks:
                run_dir = tmp / f"{speaker}_k{k}"
                mine, held = run_dir / "mine", run_dir / "held"
                for w in WORDS:
                    _link(clips[w][:k], mine / w, args.repeat)
                    _link(clips[w][k:], held / w)
                _link(others, held / "_unknown_")
                before = score_folder(base.out / "model_int8.tflite", held, labels, audio)
                t1 = time.perf_counter()
                tuned = run_kws(run_dir / "tuned", data=mine, init=base.out, epochs=args.epochs, seed=args.seed,
                                progress=False, threads=args.threads)
                after = score_folder(tuned.out / "model_int8.tflite", held, labels, audio)
                row = {"speaker": speaker, "k": k, "held_out": before["support"], "before": _short(before),
                       "after": _short(after), "fine_tune_s": round(time.perf_counter() - t1, 1),
                       "training_examples": tuned.metrics["task"]["training_examples"]}
                if args.control:
                    ctrl = run_kws(run_dir / "control", data=base_roots, init=base.out, epochs=args.epochs,
                                   seed=args.seed, progress=False, threads=args.threads)
                    row["control"] = _short(score_folder(ctrl.out / "model_int8.tflite", held, labels, audio))
                rows.append(row)
                print(f"speaker {speaker} k={k}: balanced {before['balanced_accuracy']:.3f} -> "
                      f"{after['balanced_accuracy']:.3f}; yes {before['per_class']['yes']:.2f} -> "
                      f"{after['per_class']['yes']:.2f}, no {before['per_class']['no']:.2f} -> "
                      f"{after['per_class']['no']:.2f}, unknown {before['per_class']['unknown']} -> "
                      f"{after['per_class']['unknown']} ({row['fine_tune_s']} s)"
                      + (f"; base data alone: {row['control']['balanced_accuracy']:.3f}" if args.control else ""),
                      flush=True)
    summary = {}
    for k in ks:
        sel = [r for r in rows if r["k"] == k]

        def med(when: str, key: str) -> float | None:
            vals = [r[when][key] for r in sel if r[when][key] is not None]
            return round(statistics.median(vals), 4) if vals else None

        summary[str(k)] = {w: {key: med(w, key) for key in ("balanced_accuracy", "yes", "no", "unknown")}
                           for w in ("before", "after") + (("control",) if args.control else ())}
        s = summary[str(k)]
        print(f"k={k} own clips per word, median over {len(sel)} speakers: balanced {s['before']['balanced_accuracy']} "
              f"-> {s['after']['balanced_accuracy']}; yes {s['before']['yes']} -> {s['after']['yes']}; no "
              f"{s['before']['no']} -> {s['after']['no']}; unknown {s['before']['unknown']} -> {s['after']['unknown']}"
              + (f"; base data alone {s['control']['balanced_accuracy']}" if args.control else ""))
    write("kws_mine" + (f"_{args.tag}" if args.tag else ""), {
        "data": str(data), "base": base.metrics["trained_on"], "base_seconds": base_s, "settings": vars(args) | {
            "base": str(args.base) if args.base else None}, "speakers": eligible, "median_by_k": summary, "rows": rows})


if __name__ == "__main__":
    main()
