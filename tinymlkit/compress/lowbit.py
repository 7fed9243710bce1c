"""Fewer bits per weight: trained on a coarse grid, then packed the way a board would store them.

Training: a straight-through estimator. Before each step every quantised kernel is set to its nearest
point on the grid (symmetric, one scale per output channel; for a dense layer one scale per tensor,
because the TFLite converter quantises fully-connected weights per tensor), the loss and gradients are
computed there, and the gradients are applied to the float weights kept aside. After training the
kernels are left on the grid. 8 bits this way is weight-only quantisation-aware training; 4 bits gives
15 levels per channel; 1 bit keeps sign(w) x mean|w| per channel (the binary-weight scheme of XNOR-Net,
Rastegari et al., arXiv:1603.05279). The first and last layers stay at 8 bits, as is usual.

Deployment: the converter still writes int8 tensors (TFLM's kernels on the Nano take int8 weights;
the pinned library has no 4-bit or binary kernels). Folding batch norm multiplies each output channel
by one number, so a channel of a low-bit layer still holds at most 2^bits distinct int8 values.
:func:`pack_report` proves it on the real file: it builds a codebook of the values present (one per
tensor when all channels share the same levels, else one per channel),
packs the codes into ``bits`` bits each, unpacks them again, checks the int8 tensor comes back
byte for byte, and counts the bytes a board would store (packed codes plus their int8 codebooks).
Those bytes are what a sketch would keep in flash and unpack to int8 at start-up into RAM (which costs
the unpacked size in RAM), or unpack layer by layer with a custom kernel; the accuracy is that of the
int8 model TFLM ran, which is exactly what the unpacked weights reproduce.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import KitError

__all__ = ["quantize_kernel", "lowbit_layers", "train_low_bit", "apply_low_bit", "PackedTensor", "PackReport",
           "pack_report", "pack_codes", "unpack_codes", "TFLM_SUPPORT"]

TFLM_SUPPORT = (
    "TFLM on the Nano (Chirale_TensorFlowLite 2.0.0, CMSIS-NN kernels) runs int8 weights with int8 "
    "activations (and int16 activations for some ops); it has no binary or 4-bit arithmetic kernels, so "
    "low-bit weights save flash only if the sketch unpacks them to int8 (into RAM at start-up, or layer by "
    "layer). Upstream TFLM has been adding packed int4 weight support for a few kernels, which the pinned "
    "library predates. Float models run too, but slowly and at 4 bytes per weight."
)
"""What the board's runtime can and cannot run, in words for the lesson."""


def quantize_kernel(w: np.ndarray, bits: int, axis: int | None = -1) -> np.ndarray:
    """Nearest point on a symmetric grid of ``bits`` bits, one scale per slice along ``axis`` (None: per tensor)."""
    w = np.asarray(w, dtype=np.float32)
    if bits < 1 or bits > 8:
        raise KitError(f"bits must be 1..8, got {bits}")
    red = tuple(range(w.ndim)) if axis is None else tuple(i for i in range(w.ndim) if i != axis % w.ndim)
    if bits == 1:
        alpha = np.mean(np.abs(w), axis=red, keepdims=True)
        return np.where(w >= 0, alpha, -alpha).astype(np.float32)
    qmax = 2 ** (bits - 1) - 1
    s = np.max(np.abs(w), axis=red, keepdims=True) / qmax
    s = np.where(s == 0, 1.0, s)
    return (np.clip(np.round(w / s), -qmax, qmax) * s).astype(np.float32)


def _quantize_tf(v: Any, bits: int, axis: int | None) -> Any:
    import tensorflow as tf

    nd = len(v.shape)
    red = list(range(nd)) if axis is None else [i for i in range(nd) if i != axis % nd]
    if bits == 1:
        alpha = tf.reduce_mean(tf.abs(v), axis=red, keepdims=True)
        return tf.where(v >= 0, alpha, -alpha)
    qmax = float(2 ** (bits - 1) - 1)
    s = tf.reduce_max(tf.abs(v), axis=red, keepdims=True) / qmax
    s = tf.where(s == 0, tf.ones_like(s), s)
    return tf.clip_by_value(tf.round(v / s), -qmax, qmax) * s


def lowbit_layers(model: Any, skip_first_last: bool = True) -> list[tuple[Any, int | None]]:
    """(layer, axis of its per-channel scale) for every Conv2D, DepthwiseConv2D and Dense to quantise."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    from keras import layers as L

    from .prune import _flat

    found = []
    for layer in _flat(model):
        if isinstance(layer, L.DepthwiseConv2D):
            found.append((layer, 2))  # kernel (kh, kw, channels, 1): one scale per channel
        elif isinstance(layer, L.Conv2D):
            found.append((layer, -1))
        elif isinstance(layer, L.Dense):
            found.append((layer, None))  # the converter quantises fully-connected weights per tensor
    if skip_first_last and len(found) > 2:
        found = found[1:-1]
    return found


def apply_low_bit(model: Any, bits: int, skip_first_last: bool = True) -> int:
    """Put the model's kernels on the grid (post-training, no retraining); returns how many layers."""
    layers = lowbit_layers(model, skip_first_last)
    for layer, axis in layers:
        ws = layer.get_weights()
        ws[0] = quantize_kernel(ws[0], bits, axis)
        layer.set_weights(ws)
    return len(layers)


def train_low_bit(model: Any, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, bits: int,
                  epochs: int = 5, batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 1234,
                  skip_first_last: bool = True, class_weight: dict[int, float] | None = None) -> dict[str, list[float]]:
    """Quantisation-aware training of the weights (straight-through estimator); keeps the best validation epoch.

    The model should be trained in float first; a few epochs here adapt it to the grid. Afterwards its
    kernels hold grid values. Returns per-epoch loss and validation accuracy.
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    import tensorflow as tf

    from ..train import set_seed

    set_seed(seed)
    targets = lowbit_layers(model, skip_first_last)
    kernels = [layer.kernel for layer, _ in targets]
    axes = [axis for _, axis in targets]
    tvars = model.trainable_variables
    opt = keras.optimizers.Adam(learning_rate=learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    cw = None
    if class_weight:
        cw = tf.constant([class_weight.get(i, 1.0) for i in range(int(model.output_shape[-1]))], tf.float32)

    @tf.function
    def step(xb: Any, yb: Any) -> Any:
        saved = [tf.identity(k.value) for k in kernels]
        for k, ax in zip(kernels, axes):
            k.assign(_quantize_tf(k.value, bits, ax))
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            sw = tf.gather(cw, yb) if cw is not None else None
            loss = loss_fn(yb, pred, sample_weight=sw)
        grads = tape.gradient(loss, tvars)
        for k, s in zip(kernels, saved):
            k.assign(s)
        opt.apply_gradients(zip(grads, tvars))
        return loss

    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    best_acc, best_w = -1.0, None
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int64)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            losses.append(float(step(tf.constant(x[idx]), tf.constant(y[idx]))))
        float_w = [k.numpy() for k in kernels]
        for k, ax in zip(kernels, axes):
            k.assign(_quantize_tf(k.value, bits, ax))
        acc = float(np.mean(np.argmax(model.predict(x_val, verbose=0, batch_size=256), 1) == y_val)) if len(x_val) else 0.0
        history["loss"].append(float(np.mean(losses)))
        history["val_accuracy"].append(acc)
        if acc > best_acc:
            best_acc, best_w = acc, [np.array(v) for v in model.get_weights()]
        for k, w in zip(kernels, float_w):
            k.assign(w)
    if best_w is not None:
        model.set_weights(best_w)  # saved with kernels on the grid
    return history


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Pack unsigned codes (each < 2**bits) into ``bits`` bits each, most significant bit first."""
    codes = np.asarray(codes, dtype=np.uint8).reshape(-1)
    bitplanes = np.unpackbits(codes[:, None], axis=1)[:, 8 - bits:]
    return np.packbits(bitplanes.reshape(-1)).tobytes()


def unpack_codes(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`."""
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:count * bits].reshape(count, bits)
    full = np.zeros((count, 8), dtype=np.uint8)
    full[:, 8 - bits:] = flat
    return np.packbits(full, axis=1).reshape(-1)


@dataclasses.dataclass(frozen=True)
class PackedTensor:
    """One weight tensor of the int8 model and what it takes packed."""

    op: str
    """Operator that uses it (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)."""
    shape: tuple[int, ...]
    """Tensor shape."""
    channels: int
    """Channels of the tensor (1 for a per-tensor scale)."""
    distinct_max: int
    """Most distinct int8 values found in one channel."""
    bits: int
    """Bits per weight stored (8 when it does not fit the low-bit grid)."""
    int8_bytes: int
    """Bytes as int8."""
    packed_bytes: int
    """Bytes packed: codes plus codebooks (equal to int8_bytes when left at 8 bits)."""


@dataclasses.dataclass(frozen=True)
class PackReport:
    """The model's weights packed at a bit width, with the round trip verified."""

    bits: int
    """Bit width asked for."""
    model_bytes: int
    """Size of the int8 .tflite."""
    weight_bytes: int
    """Bytes of the convolution and dense weight tensors as int8."""
    packed_weight_bytes: int
    """The same packed (low-bit tensors) or kept (the rest)."""
    tensors: tuple[PackedTensor, ...]
    """Per weight tensor."""

    @property
    def packed_model_bytes(self) -> int:
        """Flash for the model with its weights packed: the file minus int8 weights plus packed ones."""
        return self.model_bytes - self.weight_bytes + self.packed_weight_bytes

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"bits": self.bits, "model_bytes": self.model_bytes, "weight_bytes": self.weight_bytes,
                "packed_weight_bytes": self.packed_weight_bytes, "packed_model_bytes": self.packed_model_bytes,
                "tensors": [dataclasses.asdict(t) for t in self.tensors]}


_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def pack_report(tflite: bytes, bits: int) -> PackReport:
    """Pack every weight tensor whose channels hold at most 2**bits values; verify the round trip; count bytes."""
    from ..tflite_file import read_tflite, schema

    data = bytes(tflite)
    tm = read_tflite(data)
    s = schema()
    m = s.Model.GetRootAsModel(data, 0)
    g = m.Subgraphs(0)
    seen: set[int] = set()
    tensors = []
    for name, _, ins, _ in tm.operators:
        if name not in _WEIGHTED or len(ins) < 2 or ins[1] < 0 or ins[1] in seen:
            continue
        ti = ins[1]
        seen.add(ti)
        t = g.Tensors(ti)
        info = tm.tensors[ti]
        if info.dtype != "int8" or not info.has_data:
            continue
        buf = m.Buffers(t.Buffer()).DataAsNumpy()
        w = np.frombuffer(bytes(buf), dtype=np.int8).reshape(info.shape)
        q = t.Quantization()
        per_channel = q is not None and q.ScaleLength() > 1
        axis = int(q.QuantizedDimension()) if per_channel else None
        chans = [np.take(w, c, axis=axis).reshape(-1) for c in range(w.shape[axis])] if axis is not None else [w.reshape(-1)]
        distinct = max(len(np.unique(c)) for c in chans)
        int8_bytes = int(w.size)
        if distinct > 2 ** bits or bits >= 8:
            tensors.append(PackedTensor(name, info.shape, len(chans), distinct, 8, int8_bytes, int8_bytes))
            continue
        # One codebook for the whole tensor when every channel draws from the same 2**bits values (the
        # converter's per-channel int8 scale maps a symmetric grid onto the same int8 levels in each channel).
        union = np.unique(w)
        groups = [w.reshape(-1)] if len(union) <= 2 ** bits else chans
        packed = 0
        for c in groups:
            book = np.unique(c)
            codes = np.searchsorted(book, c).astype(np.uint8)
            blob = pack_codes(codes, bits)
            back = book[unpack_codes(blob, bits, len(c))]
            if not np.array_equal(back, c):
                raise KitError(f"{name} weights {info.shape}: packing at {bits} bits did not round-trip")
            packed += len(blob) + 2 ** bits  # codes + an int8 codebook with a slot per code
        if packed >= int8_bytes:  # small channels with a codebook each cost more than plain int8: keep int8
            tensors.append(PackedTensor(name, info.shape, len(chans), distinct, 8, int8_bytes, int8_bytes))
            continue
        tensors.append(PackedTensor(name, info.shape, len(chans), distinct, bits, int8_bytes, packed))
    wb = sum(t.int8_bytes for t in tensors)
    pb = sum(t.packed_bytes for t in tensors)
    return PackReport(bits=bits, model_bytes=len(data), weight_bytes=wb, packed_weight_bytes=pb, tensors=tuple(tensors))

