"""The course's figures (tinymlkit.plots): what each one draws, checked on the matplotlib objects it returns."""
from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

from tinymlkit.plots import (plot_images, plot_layer_costs, plot_metrics_by_group, plot_privacy_tradeoff,  # noqa: E402
                             plot_scaling, plot_scores_over_time)


def test_images_side_by_side_with_their_sizes():
    rgb = np.zeros((120, 160, 3), np.uint8)
    gray = np.zeros((96, 96, 1), np.int8)
    fig = plot_images([rgb, gray], ["frame", "int8 input"])
    assert [ax.get_title() for ax in fig.axes] == ["frame 160x120", "int8 input 96x96"]
    assert fig.axes[1].images[0].get_array().shape == (96, 96), "a one-channel image is drawn as a 2-D gray image"


def test_scaling_points_are_labelled_on_log_axes():
    fig = plot_scaling([1e3, 1e4, 1e5], [2e5, 2e6, 3e7], ["a", "b", "c"], "parameters", "MACs")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
    assert ax.lines[0].get_xdata().tolist() == [1e3, 1e4, 1e5]


def test_layer_costs_bars_in_kilobytes():
    fig = plot_layer_costs(["0 conv", "1 fc"], [1000, 20], [2048, 512], [1024, 4096], title="m")
    assert [p.get_height() for p in fig.axes[0].patches] == [1000, 20]
    assert [p.get_height() for p in fig.axes[1].patches] == [2.0, 0.5, 1.0, 4.0]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["0 conv", "1 fc"]


def test_scores_over_time_keeps_labels_with_the_same_name_apart():
    fig = plot_scores_over_time([0.0, 0.5], [("yes", [0.1, 0.9]), ("yes", [0.8, 0.2]), ("a $5 label", [0.0, 0.0])],
                                [12.0, 13.0])
    assert len(fig.axes[0].lines) == 3
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["yes", "yes", r"a \$5 label"]
    assert fig.axes[1].lines[0].get_ydata().tolist() == [12.0, 13.0]


def test_metrics_by_group_bars_show_counts_and_mark_small_groups():
    by = {"< 10 dB": {"balanced_accuracy": 0.5, "n": 3}, ">= 10 dB": {"balanced_accuracy": 0.9, "n": 40}}
    fig = plot_metrics_by_group(by, "by SNR", min_n=10)
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [0.5, 0.9]
    assert [t.get_text() for t in ax.texts] == ["n=3", "n=40"]
    assert ax.patches[0].get_hatch() == "//" and not ax.patches[1].get_hatch()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["< 10 dB", ">= 10 dB"]


def test_privacy_tradeoff_draws_each_series_with_its_point_labels_the_plain_model_and_chance():
    fig = plot_privacy_tradeoff({"lambda": [(0.3, 0.80, "lambda 0"), (0.2, 0.78, "lambda 1")], "width": [(0.5, 0.8, "64")]},
                                plain=(0.8, 0.64), chance=0.1)
    ax = fig.axes[0]
    assert ax.lines[0].get_xdata().tolist() == [0.3, 0.2] and ax.lines[1].get_ydata().tolist() == [0.8]
    assert [t.get_text() for t in ax.texts] == ["lambda 0", "lambda 1", "64"]
    assert ax.lines[2].get_xdata().tolist() == [0.8] and list(ax.lines[3].get_xdata()) == [0.1, 0.1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lambda", "width", "plain (raw features)",
                                                                  "speaker chance"]
