"""Helpers shared by the command modules: label and config resolution, JSON output."""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ConfigError, KwsRunConfig, VwwRunConfig, load_run_config
from ..errors import KitError

__all__ = ["labels_and_config", "print_json", "add_config_or_labels", "data_subparsers", "int_in", "seconds",
           "parse_labels"]


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``lo`` to ``hi`` (argparse names the option in the error)."""
    def parse(text: str) -> int:
        try:
            v = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range; give {lo} to {hi}")
        return v

    parse.__name__ = "whole number"
    return parse


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0 (at most a day)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v <= 0 or v > 86400:
        raise argparse.ArgumentTypeError(f"{text} seconds: give a number above 0 and at most 86400")
    return v


def parse_labels(text: str, flag: str = "--labels") -> tuple[str, ...]:
    """Comma-separated labels: at least two, none empty, no duplicates (KitError naming ``flag``)."""
    labels = tuple(s.strip() for s in text.split(","))
    if any(not lab for lab in labels) or len(labels) < 2:
        raise KitError(f"{flag} {text!r}: give at least two comma-separated labels, none empty")
    dup = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dup:
        raise KitError(f"{flag} {text!r}: label(s) {', '.join(dup)} given more than once")
    return labels


def add_config_or_labels(p: argparse.ArgumentParser, example: str) -> None:
    """Add the mutually exclusive --config / --labels options."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--config", type=Path, help="the run's config.json (labels and settings)")
    g.add_argument("--labels", help=f"comma-separated labels in the model's output order, e.g. {example}")


def labels_and_config(args: argparse.Namespace, default: KwsRunConfig | VwwRunConfig
                      ) -> tuple[tuple[str, ...], KwsRunConfig | VwwRunConfig]:
    """Labels and config from --config, or from --labels with the default settings."""
    if getattr(args, "config", None) is not None:
        cfg = load_run_config(args.config)
        if type(cfg) is not type(default):
            raise ConfigError(f"{args.config}: a '{cfg.kind}' config, but this command needs a '{default.kind}' one")
        return tuple(cfg.labels), cfg
    return parse_labels(args.labels), default


def print_json(obj: Any) -> None:
    """One JSON object on stdout."""
    print(json.dumps(obj, indent=2))


def data_subparsers(sub: Any) -> Any:
    """The sub-command group of ``tinymlkit data``, created on first use and shared by command modules."""
    parser = sub.choices.get("data")
    if parser is None:
        parser = sub.add_parser("data", help="get, make or convert data sets",
                                description="Get, make or convert the data sets the kit trains on.")
        return parser.add_subparsers(dest="data_command", metavar="DATASET", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="data_command", metavar="DATASET", required=True)
