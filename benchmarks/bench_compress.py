"""Advanced track I, measured on TFLM: pruning to a budget (channels vs depth vs width), early exit, low-bit weights.

Keyword spotting on the real clips of ../shared/data/speech_commands_v0.02_test_dev (speaker-disjoint
split; yes/no + silence + unknown), with the kit's DS-CNN (64 filters, 49x40 micro features) as the
starting model; the person detector's MobileNetV1 0.25 (real weights of person_detect.tflite) for the
VWW cost curves. Every accuracy is the int8 model on the TFLM interpreter on the test speakers; every
cost is measured on the int8 file (flash, TFLM arena, MACs) with the kit's latency and energy estimate.

    python benchmarks/bench_compress.py prune-kws   [--epochs 25 --finetune EPOCHS] [--mac-fractions ..] [--arena-fractions ..]
                                                    [--methods channels depth width]
    python benchmarks/bench_compress.py early-exit  [--export-sketch]
    python benchmarks/bench_compress.py lowbit      # adds the tfmot PTQ-vs-QAT rows when tfmot imports
    python benchmarks/bench_compress.py prune-vww   [--data PHOTOS --finetune 8]   # --data: fine-tune and judge accuracy
    python benchmarks/bench_compress.py qat-tfmot   # needs tf_keras + tensorflow-model-optimization

Full QAT (weights and activations) needs Keras 2: tensorflow-model-optimization 0.8.1 wraps tf_keras models
only. Its metadata pins absl-py~=1.2 (TensorFlow 2.21's environment has absl-py 2.x), so it is kept out of
the kit's environment; install it beside it and point TINYMLKIT_TFMOT_PATH there:

    pip install --no-deps --target /some/dir tf_keras==2.21.0 tensorflow-model-optimization==0.8.1 \
        dm-tree==0.1.10 mock==5.2.0

The trained starting model is cached in benchmarks/results/cache/ so the sections share it.
Keep one running at a time: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, write  # noqa: E402

import numpy as np  # noqa: E402

KWS_DATA = SHARED_DATA / "speech_commands_v0.02_test_dev"
CACHE = RESULTS / "cache"
TASK = {"unknown_percentage": 100.0, "silence_percentage": 50.0}
VWW_LABELS = ("non_person", "person")


def _work(args: argparse.Namespace) -> Any:
    from tinymlkit.compress.workbench import kws_work

    if not KWS_DATA.is_dir():
        sys.exit(f"skipped: {KWS_DATA} is absent (it ships only with the project's ../shared folder)")
    return kws_work(KWS_DATA, ("yes", "no"), seed=args.seed, copies=args.copies, task_overrides=TASK)


def _row(name: str, tflite: bytes, work: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from tinymlkit.compress.budget import measure_cost
    from tinymlkit.compress.workbench import int8_accuracy

    cost = measure_cost(tflite)
    m = int8_accuracy(tflite, work.x_test, work.y_test, work.labels)
    row = {"name": name, **cost.to_json(), "accuracy": round(m["accuracy"], 4),
           "balanced_accuracy": round(m["balanced_accuracy"], 4), **(extra or {})}
    print(f"  {name:<34} acc {row['accuracy']:.3f} bal {row['balanced_accuracy']:.3f}  MACs {cost.macs / 1e6:6.2f} M  "
          f"arena {cost.arena_bytes or 0:>7,} B  model {cost.model_bytes:>7,} B  {cost.latency_ms:6.1f} ms  "
          f"{cost.energy_uj:7.1f} uJ", flush=True)
    return row


def _base(args: argparse.Namespace, work: Any) -> tuple[Any, bytes]:
    """The starting DS-CNN, trained once and cached."""
    import keras

    from tinymlkit.compress.workbench import train_kws_model
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.models import ds_cnn

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"kws_ds_cnn64_seed{args.seed}_e{args.epochs}.keras"
    if path.is_file():
        model = keras.models.load_model(path, compile=False)
    else:
        model = ds_cnn(work.config.audio.feature_shape, len(work.labels), filters=64)
        t = time.perf_counter()
        train_kws_model(model, work, epochs=args.epochs, patience=args.patience, seed=args.seed)
        print(f"  base DS-CNN trained in {time.perf_counter() - t:.0f} s", flush=True)
        model.save(path)
    return model, to_int8_tflite(model, work.x_train)


def _finetune(model: Any, work: Any, args: argparse.Namespace) -> bytes:
    from tinymlkit.compress.workbench import train_kws_model
    from tinymlkit.convert import to_int8_tflite

    train_kws_model(model, work, epochs=args.finetune, learning_rate=0.001, patience=args.finetune, seed=args.seed)
    return to_int8_tflite(model, work.x_train)


def prune_kws(args: argparse.Namespace) -> None:
    from tinymlkit.compress.budget import Budget, BudgetError
    from tinymlkit.compress.prune import drop_blocks, largest_fitting, prune_to_budget
    from tinymlkit.compress.workbench import train_kws_model
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.models import ds_cnn

    work = _work(args)
    base, base_tfl = _base(args, work)
    print("KWS pruning (int8 on TFLM, test speakers):")
    base_row = _row("DS-CNN 64 (start)", base_tfl, work)
    rows: list[dict[str, Any]] = []
    budgets = [("macs", f) for f in args.mac_fractions] + [("arena", f) for f in args.arena_fractions]
    for what, f in budgets:
        limit = int(base_row["macs" if what == "macs" else "arena_bytes"] * f)
        budget = Budget(macs=limit) if what == "macs" else Budget(arena_bytes=limit)
        tag = f"{what} x{f:g}"
        common = {"budget": what, "fraction": f, "budget_value": limit}
        if "channels" in args.methods:
            t = time.perf_counter()
            r = prune_to_budget(base, budget, work.x_train, iterations=6)
            rows.append(_row(f"channels  {tag} (keep {r.keep_ratio:.2f})", _finetune(r.model, work, args), work,
                             {"method": "channels", **common, "keep_ratio": round(r.keep_ratio, 4),
                              "search_steps": len(r.steps), "seconds": round(time.perf_counter() - t, 1)}))
        if "depth" in args.methods:
            try:
                k, m, _, _ = largest_fitting(lambda n: drop_blocks(base, n)[0], [3, 2, 1], budget, work.x_train)
            except BudgetError:
                rows.append({"name": f"depth     {tag}", "method": "depth", **common, "fits": False,
                             "note": "even one block exceeds the budget (the first convolution and its output dominate)"})
                print(f"  depth     {tag}: even one block exceeds the budget", flush=True)
            else:
                rows.append(_row(f"depth     {tag} ({k} blocks)", _finetune(m, work, args), work,
                                 {"method": "depth", **common, "blocks": k}))
        if "width" in args.methods:
            filters, m, _, _ = largest_fitting(
                lambda n: ds_cnn(work.config.audio.feature_shape, len(work.labels), filters=n),
                list(range(60, 7, -4)), budget, work.x_train)
            train_kws_model(m, work, epochs=args.epochs, patience=args.patience, seed=args.seed)
            rows.append(_row(f"width     {tag} ({filters} filters)", to_int8_tflite(m, work.x_train), work,
                             {"method": "width", **common, "filters": filters,
                              "note": "trained from scratch with the base's epochs"}))
    curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        point = {k: r.get(k) for k in ("fraction", "budget_value", "macs", "arena_bytes", "model_bytes", "accuracy",
                                       "balanced_accuracy", "keep_ratio", "blocks", "filters", "fits") if k in r}
        curves.setdefault(r["budget"], {}).setdefault(r["method"], []).append(point)
    for r in rows:
        if "accuracy" in r:
            r["drop_accuracy"] = round(base_row["accuracy"] - r["accuracy"], 4)
            r["drop_balanced_accuracy"] = round(base_row["balanced_accuracy"] - r["balanced_accuracy"], 4)
    # Judged on both: balanced accuracy leads (a class the pruning loses shows there first), accuracy as the issue words it.
    best = [r for r in rows if r.get("method") == "channels" and "accuracy" in r
            and max(r["drop_accuracy"], r["drop_balanced_accuracy"]) <= args.max_drop + 1e-9
            and (r["macs"] * 2 <= base_row["macs"] or (r["arena_bytes"] or 1e12) * 2 <= base_row["arena_bytes"])]
    write("compress_prune_kws", {
        "data": str(KWS_DATA), "task": {"words": ["yes", "no"], **TASK}, "labels": list(work.labels),
        "test_clips": int(len(work.y_test)), "train_examples": int(len(work.y_train)),
        "settings": {"epochs": args.epochs, "finetune_epochs": args.finetune, "copies": args.copies, "seed": args.seed},
        "base": base_row, "rows": rows, "curves": curves,
        "target_met": bool(best), "target": ">= 2x fewer MACs or 2x smaller arena for <= 1 point of accuracy and of balanced accuracy (--max-drop)",
        "target_rows": [r["name"] for r in best],
    })


def early_exit(args: argparse.Namespace) -> None:
    from tinymlkit.compress.early_exit import cascade_scores, choose_threshold, evaluate_threshold, exit_curve, export_early_exit
    from tinymlkit.compress.workbench import train_kws_model
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.files import atomic_write_bytes
    from tinymlkit.inspect import inspect_model
    from tinymlkit.models import tiny_conv

    work = _work(args)
    _, big = _base(args, work)
    small_model = tiny_conv(work.config.audio.feature_shape, len(work.labels))
    train_kws_model(small_model, work, epochs=args.epochs, patience=args.patience, seed=args.seed)
    small = to_int8_tflite(small_model, work.x_train)
    m1, m2 = inspect_model(small, measure=False).macs, inspect_model(big, measure=False).macs
    print("Early exit (tiny_conv -> DS-CNN 64), int8 on TFLM:")
    s1_row, s2_row = _row("stage 1 tiny_conv alone", small, work), _row("stage 2 DS-CNN alone", big, work)
    val = cascade_scores(small, big, work.x_val)
    curve_val = exit_curve(val, work.y_val, work.labels, m1, m2)
    ref_val = curve_val[-1].accuracy
    chosen = choose_threshold(curve_val, ref_val, max_drop=args.max_drop)
    test = cascade_scores(small, big, work.x_test)
    curve_test = exit_curve(test, work.y_test, work.labels, m1, m2)
    at = evaluate_threshold(test, work.y_test, work.labels, chosen.threshold_int8, m1, m2)
    print(f"  threshold int8 {chosen.threshold_int8} (p {chosen.threshold:.3f}) chosen on validation: exit "
          f"{chosen.exit_fraction:.2f}, acc {chosen.accuracy:.3f} vs {ref_val:.3f}")
    print(f"  on test: exit {at.exit_fraction:.2f}, acc {at.accuracy:.3f} (stage 2 alone {s2_row['accuracy']:.3f}), "
          f"avg MACs {at.avg_macs / 1e6:.2f} M ({at.mac_saving:.1%} fewer), {at.latency_ms:.1f} ms, {at.energy_uj:.0f} uJ")
    result = {
        "data": str(KWS_DATA), "labels": list(work.labels), "test_clips": int(len(work.y_test)),
        "backend": test.backend, "stage1": s1_row, "stage2": s2_row, "macs": [m1, m2],
        "max_drop": args.max_drop, "chosen_on_validation": chosen.to_json(), "test_at_threshold": at.to_json(),
        "accuracy_drop_test": round(s2_row["accuracy"] - at.accuracy, 4),
        "target_met": bool(at.mac_saving >= 0.25 and s2_row["accuracy"] - at.accuracy <= 0.01),
        "target": ">= 25 % fewer average MACs for <= 1 point of accuracy on TFLM",
        "curve_test": [p.to_json() for p in curve_test[::8]] + [curve_test[-1].to_json()],
    }
    if args.export_sketch:
        sketch = Path(__file__).resolve().parents[1] / "arduino_sketches" / "early_exit"
        model_dir = sketch / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(model_dir / "stage1_int8.tflite", small)
        atomic_write_bytes(model_dir / "stage2_int8.tflite", big)
        work.save_config(model_dir / "config.json")
        export_early_exit(model_dir / "stage1_int8.tflite", model_dir / "stage2_int8.tflite", model_dir / "config.json",
                          sketch, chosen, m1, m2)
        result["sketch"] = str(sketch)
    write("compress_early_exit_kws", result)


def lowbit(args: argparse.Namespace) -> None:
    from tinymlkit.compress.lowbit import TFLM_SUPPORT, apply_low_bit, pack_report, train_low_bit
    from tinymlkit.compress.workbench import class_weights
    from tinymlkit.convert import to_dynamic_range_tflite, to_float_tflite, to_int8_tflite

    work = _work(args)
    base, base_tfl = _base(args, work)
    cw = class_weights(work.y_train, len(work.labels))
    print("Low-bit weights (DS-CNN 64), int8 file on TFLM; packed = what the board would store:")
    rows = []
    f32 = to_float_tflite(base)
    rows.append({"name": "float32 (no quantization)", "model_bytes": len(f32),
                 "dynamic_range_bytes": len(to_dynamic_range_tflite(base)), "runs_on_nano_int8_kernels": False,
                 "keras_accuracy": round(float(np.mean(np.argmax(base.predict(work.x_test, verbose=0), 1) == work.y_test)), 4)})
    rows.append(_row("int8 PTQ", base_tfl, work, {"packed_model_bytes": pack_report(base_tfl, 8).packed_model_bytes}))

    for bits in (8, 4, 2, 1):
        m = _copy_model(base)
        t = time.perf_counter()
        train_low_bit(m, work.x_train, work.y_train, work.x_val, work.y_val, bits=bits, epochs=args.finetune,
                      learning_rate=5e-4, seed=args.seed, class_weight=cw)
        data = to_int8_tflite(m, work.x_train)
        rep = pack_report(data, bits)
        rows.append(_row(f"{bits}-bit weights, QAT (STE)", data, work, {
            "bits": bits, "packed_model_bytes": rep.packed_model_bytes, "packed_weight_bytes": rep.packed_weight_bytes,
            "weight_bytes_int8": rep.weight_bytes, "low_bit_tensors": sum(t.bits == bits for t in rep.tensors),
            "seconds": round(time.perf_counter() - t, 1)}))
        print(f"    packed: {rep.packed_model_bytes:,} B (weights {rep.weight_bytes:,} -> {rep.packed_weight_bytes:,})")
        if bits in (4, 1):
            p = _copy_model(base)
            apply_low_bit(p, bits)
            d = to_int8_tflite(p, work.x_train)
            rows.append(_row(f"{bits}-bit weights, post-training only", d, work,
                             {"bits": bits, "packed_model_bytes": pack_report(d, bits).packed_model_bytes}))
    try:
        qat = _tfmot_rows(base, work, args)
    except Exception as e:  # noqa: BLE001 - the low-bit table must not be lost to the optional tfmot part
        qat = {"works": False, "error": f"{type(e).__name__}: {e}"}
    rows += qat.pop("rows", [])
    write("compress_lowbit_kws", {"data": str(KWS_DATA), "labels": list(work.labels), "rows": rows,
                                  "test_clips": int(len(work.y_test)), "tfmot": qat,
                                  "tflm_on_the_nano": TFLM_SUPPORT,
                                  "qat_note": ("weight-only quantization-aware training with a straight-through estimator "
                                               "in Keras 3; activations are quantized by the converter afterwards")})


def prune_vww(args: argparse.Namespace) -> None:
    """Cost curves of the person detector at each MAC budget; accuracy only as a smoke figure (see the note)."""
    from tinymlkit.compress.budget import Budget
    from tinymlkit.compress.prune import drop_blocks, int8_cost, largest_fitting, prune_to_budget, settle_batchnorm
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.models import mobilenet_v1
    from tinymlkit.models.person_detect_base import person_detect_model
    from tinymlkit.pipelines.vww import load_real_photos, score_pixels
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.vision.int8_input import normalize

    ref = SHARED_DATA / "tflite_micro_reference" / "person_detection" / "person_detect.tflite"
    if not ref.is_file():
        sys.exit(f"skipped: {ref} is absent")
    base = person_detect_model(ref)
    rep = np.random.default_rng(0).uniform(-1, 1, (32, 96, 96, 1)).astype(np.float32)
    _, full = int8_cost(base, rep)
    print(f"VWW MobileNetV1 0.25 (person_detect weights): MACs {full.macs / 1e6:.2f} M, arena {full.arena_bytes:,} B, "
          f"model {full.model_bytes:,} B")
    photos_dir = SHARED_DATA / "people_smoke"
    photos = load_real_photos(photos_dir, labels=VWW_LABELS) if photos_dir.is_dir() else None

    def smoke(model: Any) -> dict[str, Any]:
        """int8 accuracy on TFLM on the real photos, calibrated on them (no labels used), no fine-tuning."""
        if photos is None:
            return {}
        ends = np.stack([np.zeros_like(photos.x[0]), np.full_like(photos.x[0], 255)])
        data = to_int8_tflite(model, normalize(np.concatenate([ends, photos.x])), max_samples=len(photos.x) + 2)
        m = score_pixels(ModelRunner(data, backend="tflm"), photos.x, photos.y, VWW_LABELS)
        return {"photo_accuracy": round(m["accuracy"], 4), "photo_balanced_accuracy": round(m["balanced_accuracy"], 4)}

    full_smoke = smoke(base)
    if full_smoke:
        print(f"  full model on {len(photos.y)} real photos: acc {full_smoke['photo_accuracy']:.3f} "
              f"bal {full_smoke['photo_balanced_accuracy']:.3f}")
    tuned = _vww_finetuner(args, photos_dir) if args.data else None
    full_tuned = tuned(_copy_model(base), "full") if tuned else {}
    rows = []
    for f in args.mac_fractions:
        budget = Budget(macs=int(full.macs * f))
        r = prune_to_budget(base, budget, rep, iterations=5)
        rows.append({"method": "channels", "fraction": f, "keep_ratio": round(r.keep_ratio, 4), **r.cost.to_json(),
                     **smoke(r.model), **(tuned(r.model, f"channels x{f:g}") if tuned else {})})
        try:
            k, m, cost, _ = largest_fitting(lambda n: drop_blocks(base, n)[0], list(range(12, 0, -1)), budget, rep)
            rows.append({"method": "depth", "fraction": f, "blocks": k, **cost.to_json(), **smoke(m),
                         **(tuned(m, f"depth x{f:g}") if tuned else {})})
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            rows.append({"method": "depth", "fraction": f, "fits": False, "note": str(e)})
        # Untrained, its activations die out and TFLM would abort on the int8 file's softmax: settle the batch norms.
        a, _, cost, _ = largest_fitting(lambda al: settle_batchnorm(mobilenet_v1((96, 96, 1), 2, alpha=al), rep),
                                        [0.24, 0.22, 0.2, 0.18, 0.16, 0.14, 0.12, 0.1], budget, rep)
        rows.append({"method": "width", "fraction": f, "alpha": a, **cost.to_json(),
                     "note": "untrained (batch-norm statistics set on the calibration images): no weights exist for "
                             "this width, so no accuracy"})
        for r_ in rows[-3:]:
            print(f"  x{f:g} {r_['method']:<9} {r_}", flush=True)
    if tuned:
        # Target (issue 17): 2x fewer MACs or a 2x smaller arena for <= 1 point of balanced accuracy, against the
        # full model fine-tuned the same way on the same data.
        floor = full_tuned["tuned_test_balanced_accuracy"] - args.max_drop
        halved = [r_ for r_ in rows if "tuned_test_balanced_accuracy" in r_ and
                  (r_["macs"] <= full.macs / 2 or r_["arena_bytes"] <= full.arena_bytes / 2)]
        met = any(r_["tuned_test_balanced_accuracy"] >= floor for r_ in halved)
        print(f"  fine-tuned on {args.data}: full {full_tuned['tuned_test_balanced_accuracy']:.3f} balanced on "
              f"{full_tuned['tuned_test_n']} held-out photos; at half the MACs or arena: "
              + ", ".join(f"{r_['method']} x{r_['fraction']:g} {r_['tuned_test_balanced_accuracy']:.3f}" for r_ in halved)
              + f" -> target {'met' if met else 'missed'}")
        write("compress_prune_vww_tuned", {
            "model": str(ref), "data": str(args.data), "finetune_epochs": args.finetune, "seed": args.seed,
            "full": {**full.to_json(), **full_smoke, **full_tuned}, "rows": rows, "target_met": met,
            "note": "each model fine-tuned on the data folder's training split (epochs chosen on its validation "
                    "split), int8 calibrated on the training images, scored on TFLM on its test split"})
        return
    write("compress_prune_vww", {
        "model": str(ref), "full": {**full.to_json(), **full_smoke}, "rows": rows,
        "photos": {"folder": str(photos_dir), "n": int(len(photos.y)), "person": int(np.sum(photos.y == 1)),
                   "non_person": int(np.sum(photos.y == 0))} if photos is not None else None,
        "target_met": None,
        "note": ("costs are measured (int8 on TFLM); accuracy is NOT measurable here: ../shared has only the real "
                 "photos of people_smoke (one photo is about 2 points), and no VWW training data to fine-tune a "
                 "pruned detector. photo_accuracy is a smoke figure of each pruned model WITHOUT fine-tuning, "
                 "int8 calibrated on the same photos (no labels used), so the <= 1 point target is not judged")})


def _copy_model(model: Any) -> Any:
    import keras

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def _freeze_batchnorm(model: Any) -> None:
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        elif hasattr(layer, "layers"):
            _freeze_batchnorm(layer)


def _vww_finetuner(args: argparse.Namespace, smoke_dir: Path) -> Any:
    """``tune(model, name)``: fine-tune on ``--data`` (train / validation split), int8 on TFLM on its test split."""
    from tinymlkit.config import TrainConfig
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.pipelines.vww import load_real_photos, score_pixels, split_photos
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.train import fit, set_seed
    from tinymlkit.vision.int8_input import normalize

    data = split_photos(load_real_photos(args.data, labels=VWW_LABELS), seed=args.seed)
    print(f"  fine-tuning data {args.data}: {data.counts}", flush=True)
    smoke = None
    if smoke_dir.is_dir() and smoke_dir.resolve() != Path(args.data).resolve():
        smoke = load_real_photos(smoke_dir, labels=VWW_LABELS)
    cfg = TrainConfig(model="mobilenet_v1", epochs=args.finetune, batch_size=16, learning_rate=args.vww_lr,
                      patience=args.finetune, seed=args.seed)

    def tune(model: Any, name: str) -> dict[str, Any]:
        set_seed(args.seed)
        t = time.perf_counter()
        _freeze_batchnorm(model)  # the base comes from a folded int8 model: no batch statistics to learn
        fit(model, normalize(data.train[0]), data.train[1], normalize(data.validation[0]), data.validation[1], cfg,
            progress=False)
        tflite = to_int8_tflite(model, normalize(data.train[0]))
        runner = ModelRunner(tflite, backend="tflm")
        m = score_pixels(runner, *data.test, VWW_LABELS)
        out = {"tuned_test_accuracy": round(m["accuracy"], 4), "tuned_test_balanced_accuracy": round(m["balanced_accuracy"], 4),
               "tuned_test_n": int(len(data.test[1])), "tuned_seconds": round(time.perf_counter() - t, 1)}
        if smoke is not None:
            s = score_pixels(runner, smoke.x, smoke.y, VWW_LABELS)
            out["tuned_smoke_balanced_accuracy"] = round(s["balanced_accuracy"], 4)
        print(f"    {name}: fine-tuned, test {out['tuned_test_accuracy']:.3f} / {out['tuned_test_balanced_accuracy']:.3f} "
              f"balanced ({out['tuned_seconds']:.0f} s)", flush=True)
        return out

    return tune


def _import_tfmot() -> tuple[Any, Any] | str:
    """(tf_keras, tfmot), or why they do not import. ``TINYMLKIT_TFMOT_PATH`` is put on the path first."""
    extra = os.environ.get("TINYMLKIT_TFMOT_PATH")
    if extra and extra not in sys.path:
        sys.path.insert(0, extra)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")  # `import keras` must stay Keras 3
    try:
        import tensorflow_model_optimization as tfmot
        import tf_keras
    except Exception as e:  # noqa: BLE001 - the finding is that it does not import
        return f"{type(e).__name__}: {e}"
    return tf_keras, tfmot


def _tf_keras_twin(base: Any, tf_keras: Any) -> Any:
    """The kit's Keras 3 DS-CNN built again in tf_keras (Keras 2), layer for layer, with the same weights."""
    L = tf_keras.layers
    shape = tuple(int(d) for d in base.inputs[0].shape[1:])
    filters = int(base.get_layer("pw0").filters)
    blocks = sum(1 for layer in base.layers if layer.name.startswith("pw"))
    rate = float(next(layer for layer in base.layers if type(layer).__name__ == "Dropout").rate)
    inp = tf_keras.Input(shape=shape, name="features")
    x = L.Reshape((*shape, 1))(inp)
    x = L.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = L.Dropout(rate)(L.ReLU()(L.BatchNormalization(momentum=0.9)(x)))
    for i in range(blocks):
        x = L.ReLU()(L.BatchNormalization(momentum=0.9)(L.DepthwiseConv2D((3, 3), padding="same", use_bias=False, name=f"dw{i}")(x)))
        x = L.ReLU()(L.BatchNormalization(momentum=0.9)(L.Conv2D(filters, (1, 1), use_bias=False, name=f"pw{i}")(x)))
    x = L.GlobalAveragePooling2D()(L.Dropout(rate)(x))
    twin = tf_keras.Model(inp, L.Dense(int(base.outputs[0].shape[-1]), activation="softmax", name="labels")(x))
    src = base.get_weights()
    if [w.shape for w in src] != [tuple(w.shape) for w in twin.get_weights()]:
        raise SystemExit("the tf_keras twin's weights do not line up with the kit's DS-CNN")
    twin.set_weights(src)
    return twin


def _tfmot_convert(m: Any, rep: np.ndarray) -> bytes:
    """Full-integer conversion of a tf_keras model (the same settings as ``tinymlkit.convert.to_int8_tflite``)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([r[None].astype(np.float32)] for r in rep)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return bytes(conv.convert())


def _tfmot_rows(base: Any, work: Any, args: argparse.Namespace) -> dict[str, Any]:
    """int8 PTQ vs full QAT (weights and activations, tfmot on a tf_keras twin), both from the same trained weights."""
    found = _import_tfmot()
    if isinstance(found, str):
        print(f"  tfmot QAT: not run ({found})", flush=True)
        return {"works": False, "error": found}
    tf_keras, tfmot = found
    from tinymlkit.compress.workbench import class_weights

    twin = _tf_keras_twin(base, tf_keras)
    probe = work.x_val[:64]
    gap = float(np.max(np.abs(twin.predict(probe, verbose=0) - base.predict(probe, verbose=0))))
    if gap > 1e-3:
        return {"works": False, "error": f"the tf_keras twin does not compute the same function (max gap {gap:.4f})"}
    rep = work.x_train[np.random.default_rng(0).choice(len(work.x_train), min(300, len(work.x_train)), replace=False)]
    rows = [_row("int8 PTQ (tf_keras twin, TF converter)", _tfmot_convert(twin, rep), work, {"method": "ptq_tf_keras"})]
    t = time.perf_counter()
    try:
        q = tfmot.quantization.keras.quantize_model(twin)
        q.compile(optimizer=tf_keras.optimizers.Adam(5e-4), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        q.fit(work.x_train, work.y_train, epochs=args.finetune, batch_size=64, verbose=0,
              class_weight=class_weights(work.y_train, len(work.labels)), validation_data=(work.x_val, work.y_val))
        rows.append(_row("int8 QAT (tfmot, weights+activations)", _tfmot_convert(q, rep), work,
                         {"method": "qat_tfmot", "epochs": args.finetune, "seconds": round(time.perf_counter() - t, 1)}))
        err = None
    except Exception as e:  # noqa: BLE001 - recorded as the finding
        err = f"{type(e).__name__}: {e}"
        print(f"  tfmot QAT failed: {err}", flush=True)
    return {"works": err is None, "error": err, "rows": rows, "tf_keras": tf_keras.__version__,
            "tfmot": tfmot.__version__, "twin_max_probability_gap": round(gap, 6),
            "how": ("the kit's trained Keras 3 DS-CNN copied weight for weight into the same network built with "
                    "tf_keras (Keras 2), because tfmot's quantize_model wraps Keras 2 models only; QAT fine-tunes "
                    f"it {args.finetune} epochs at 5e-4 with fake-quantised weights and activations")}


def qat_tfmot(args: argparse.Namespace) -> None:
    """Full QAT (weights and activations) with the TensorFlow Model Optimization toolkit, if it can run here.

    tfmot wraps Keras 2 models only, so the trained DS-CNN is copied into the same network built with
    ``tf_keras``. Needs ``tf_keras`` and ``tensorflow-model-optimization`` importable; the folder in
    ``TINYMLKIT_TFMOT_PATH`` is put on the path first (to try them without touching a shared environment).
    """
    found = _import_tfmot()
    if isinstance(found, str):
        write("compress_qat_tfmot", {"works": False, "error": found})
        return
    work = _work(args)
    base, base_tfl = _base(args, work)
    print("int8 PTQ vs QAT (DS-CNN 64, the same trained weights), int8 on TFLM:")
    ptq = _row("int8 PTQ (kit converter, Keras 3)", base_tfl, work, {"method": "ptq_kit"})
    out = _tfmot_rows(base, work, args)
    out["rows"] = [ptq, *out.get("rows", [])]
    write("compress_qat_tfmot", {"data": str(KWS_DATA), "labels": list(work.labels),
                                 "test_clips": int(len(work.y_test)), **out})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("section", choices=["prune-kws", "early-exit", "lowbit", "prune-vww", "qat-tfmot"])
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--finetune", type=int, default=None,
                    help="epochs after cutting (prune-kws: --epochs, what the width models train from scratch, so every "
                         "way of shrinking trains as long; 8 lost 4.6 points at half the MACs) or of QAT/fine-tuning (others: 8)")
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--mac-fractions", type=float, nargs="*", default=[0.75, 0.5, 0.3])
    ap.add_argument("--arena-fractions", type=float, nargs="*", default=[0.5])
    ap.add_argument("--methods", nargs="*", choices=["channels", "depth", "width"], default=["channels", "depth", "width"],
                    help="prune-kws: which ways of shrinking to run at each budget")
    ap.add_argument("--max-drop", type=float, default=0.01)
    ap.add_argument("--data", type=Path, help="prune-vww: labelled real photos (person/ and non_person/, e.g. from "
                    "'tinymlkit data wake-vision' or 'data vww-coco') to fine-tune every pruned detector on and "
                    "score on a held-out split: what judges the accuracy target")
    ap.add_argument("--vww-lr", type=float, default=0.0005, help="prune-vww --data: fine-tuning learning rate")
    ap.add_argument("--export-sketch", action="store_true", help="write the two-stage model into arduino_sketches/early_exit")
    args = ap.parse_args()
    if args.finetune is None:
        args.finetune = args.epochs if args.section == "prune-kws" else 8
    {"prune-kws": prune_kws, "early-exit": early_exit, "lowbit": lowbit, "prune-vww": prune_vww,
     "qat-tfmot": qat_tfmot}[args.section](args)


if __name__ == "__main__":
    main()
