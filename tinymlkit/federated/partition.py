"""The clients' data: keyword clips grouped by speaker (the natural, non-IID split), or redistributed.

Every client holds whole speakers: a speaker's clips never end up on two clients, as on real devices
where one person speaks to one phone or one board. ``iid`` shuffles all clips across clients (the
textbook case FedAvg was analysed in), ``label_skew`` also drops one keyword from each client (a
strongly non-IID case: each device hears only some of the commands).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.augment import mix_background, random_noise_segment
from ..audio.features import micro_features
from ..config import AudioFrontendConfig, KwsTaskConfig
from ..data.speech_commands import KwsDataset, clip_for, speaker_of
from ..errors import KitError

__all__ = ["PARTITIONS", "ClientData", "split_features", "partition_clients", "save_partitions", "load_partition",
           "label_histogram", "speakers_per_client"]

PARTITIONS = ("speaker", "iid", "label_skew")
"""How clips are spread over clients."""


@dataclasses.dataclass(frozen=True)
class ClientData:
    """One client's training examples."""

    x: np.ndarray
    """Micro features (N, frames, channels), float32."""
    y: np.ndarray
    """Label indices (N,)."""
    speakers: tuple[str, ...]
    """The speakers whose clips the client holds ('' for made-up silence)."""


def split_features(ds: KwsDataset, split: str, audio: AudioFrontendConfig, task: KwsTaskConfig,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Micro features, labels and speaker of every clip of one split; silence is background noise alone."""
    rng = np.random.default_rng(seed)
    silence_idx = ds.labels.index(task.silence_label)
    xs, ys, spk = [], [], []
    for path, y in ds.items[split]:
        if path is None:
            clip = np.zeros(audio.clip_samples, dtype=np.float32)
        else:
            clip = clip_for(path, audio.sample_rate, audio.clip_samples)
        if y == silence_idx and ds.background:
            noise = random_noise_segment(ds.background[int(rng.integers(len(ds.background)))], len(clip), rng)
            clip = mix_background(clip, noise, float(rng.uniform(0, 1.0)))
        xs.append(micro_features(clip, audio))
        ys.append(y)
        spk.append(speaker_of(path.name) if path is not None else "")
    if not xs:
        return np.zeros((0, *audio.feature_shape), np.float32), np.zeros(0, np.int64), []
    return np.stack(xs), np.asarray(ys, np.int64), spk


def partition_clients(x: np.ndarray, y: np.ndarray, speakers: list[str], num_clients: int, how: str = "speaker",
                      keyword_ids: tuple[int, ...] = (), seed: int = 0) -> list[ClientData]:
    """Spread the training examples over ``num_clients`` clients (see the module docstring for ``how``)."""
    if how not in PARTITIONS:
        raise KitError(f"unknown partition {how!r}; choose one of {', '.join(PARTITIONS)}")
    named = sorted({s for s in speakers if s})
    if num_clients < 2 or num_clients > max(2, len(named)):
        raise KitError(f"{num_clients} clients for {len(named)} speakers: give 2..{len(named)} "
                       "(every client holds at least one whole speaker)")
    rng = np.random.default_rng(seed)
    owner = np.zeros(len(y), dtype=int)
    if how == "iid":
        owner = rng.permutation(np.arange(len(y)) % num_clients)
    else:
        order = [named[i] for i in rng.permutation(len(named))]
        client_of = {s: i % num_clients for i, s in enumerate(order)}
        silent = 0
        for i, s in enumerate(speakers):
            if s:
                owner[i] = client_of[s]
            else:  # made-up silence belongs to nobody: deal it out
                owner[i] = silent % num_clients
                silent += 1
    keep = np.ones(len(y), dtype=bool)
    if how == "label_skew" and keyword_ids:
        for i in range(len(y)):  # client c never hears keyword number c (mod the keywords)
            if y[i] == keyword_ids[owner[i] % len(keyword_ids)]:
                keep[i] = False
    clients = []
    for c in range(num_clients):
        sel = (owner == c) & keep
        clients.append(ClientData(x[sel], y[sel], tuple(sorted({speakers[i] for i in np.flatnonzero(sel)}))))
    return clients


def save_partitions(clients: list[ClientData], folder: str | os.PathLike[str]) -> Path:
    """One ``client_<i>.npz`` per client (what each simulated device loads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, c in enumerate(clients):
        np.savez(folder / f"client_{i}.npz", x=c.x, y=c.y)
    return folder


def load_partition(folder: str | os.PathLike[str], index: int) -> dict[str, Any]:
    """Client ``index``'s arrays."""
    with np.load(Path(folder) / f"client_{index}.npz") as d:
        return {"x": d["x"], "y": d["y"]}


def label_histogram(clients: list[ClientData], num_labels: int) -> list[list[int]]:
    """Examples per label on each client: how non-IID the split is."""
    return [np.bincount(c.y, minlength=num_labels).astype(int).tolist() for c in clients]


def speakers_per_client(clients: list[ClientData]) -> list[int]:
    """Speakers held by each client."""
    return [len([s for s in c.speakers if s]) for c in clients]

