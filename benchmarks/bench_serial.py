"""Sustained capture throughput over a pseudo-terminal, against the board's USB serial rate.

    python benchmarks/bench_serial.py [--clips 200] [--frames 200] [--repeats 5]

The virtual board runs in its own process (as a board would be its own device) and streams clips
or camera frames over a pty. Measured, median of the repeats:

- stream: frames read and checked by the host reader, nothing written to disk;
- capture: the whole ``capture()`` path, each clip written as a WAV/PNG file atomically with fsync.

Compared with USB 2.0 full speed, the Nano 33 BLE's USB: at most 19 bulk transactions of 64 bytes
per 1 ms frame, 1,216,000 bytes/s of payload (USB 2.0 specification, section 5.8.4, full-speed bulk
limits); the 12 Mbit/s signalling rate is 1.5 MB/s. A real CDC stack reaches less than that.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
USB_FS_BULK_BYTES_PER_S = 19 * 64 * 1000
"""USB 2.0 full-speed bulk ceiling: 19 x 64-byte transactions per 1 ms frame."""
AUDIO_REALTIME_BYTES_PER_S = 16000 * 2
"""What the microphone produces: 16 kHz x 16-bit."""


def _board() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tinymlkit.cli.virtual_board", "--board-id", "0be4c400"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    port = proc.stdout.readline().strip()
    if not port.startswith("/dev/"):
        proc.kill()
        raise SystemExit("the virtual board did not start")
    return proc, port


def _stream(port: str, op: str, frame_type: str, n: int) -> tuple[float, int, int]:
    """Seconds, payload bytes and wire bytes to receive ``n`` data frames."""
    from tinymlkit.board import protocol as p
    from tinymlkit.board.link import BoardLink

    code = p.TYPE_BY_NAME[frame_type].code
    with BoardLink(port) as link:
        link.hello()
        start_bytes = link.parser.stats.bytes_in
        got = payload = 0
        t0 = time.perf_counter()
        link.command(op, n)
        for frame in link.frames(timeout=10):
            if frame.type == code:
                got += 1
                payload += len(frame.payload)
                if got == n:
                    break
        dt = time.perf_counter() - t0
        if got != n or not link.parser.stats.clean:
            raise SystemExit(f"stream lost frames: {got} of {n}, {link.parser.stats.describe()}")
        return dt, payload, link.parser.stats.bytes_in - start_bytes


def _capture(port: str, kind: str, n: int) -> tuple[float, int]:
    from tinymlkit.board.capture import capture

    with tempfile.TemporaryDirectory() as d:
        report = capture(port, kind, "bench", n, d, progress=False, log=lambda s: None)
        if len(report.saved) != n:
            raise SystemExit(f"capture saved {len(report.saved)} of {n}")
        return report.seconds, report.bytes_received


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=200, help="audio clips per run (32 KB each)")
    ap.add_argument("--frames", type=int, default=200, help="160x120 RGB565 frames per run (38 KB each)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    proc, port = _board()
    results: dict[str, dict[str, float]] = {}
    try:
        cases = [("audio stream", lambda: _stream(port, "CAPTURE_AUDIO", "AUDIO", args.clips), args.clips),
                 ("image stream", lambda: _stream(port, "CAPTURE_IMAGE", "IMAGE", args.frames), args.frames),
                 ("audio capture to WAV", lambda: _capture(port, "audio", args.clips), args.clips),
                 ("image capture to PNG", lambda: _capture(port, "image", args.frames), args.frames)]
        for name, run, n in cases:
            fps, bps, wire = [], [], []
            for _ in range(args.repeats):
                out = run()
                dt, payload = out[0], out[1]
                fps.append(n / dt)
                bps.append(payload / dt)
                if len(out) == 3:
                    wire.append(out[2] / dt)
            row = {"frames_per_s": median(fps), "payload_bytes_per_s": median(bps),
                   "vs_usb_full_speed_bulk": median(bps) / USB_FS_BULK_BYTES_PER_S}
            if wire:
                row["wire_bytes_per_s"] = median(wire)
            results[name] = row
            print(f"{name:22s} {row['frames_per_s']:8.1f} frames/s  {row['payload_bytes_per_s'] / 1e6:6.2f} MB/s  "
                  f"({row['vs_usb_full_speed_bulk']:.1f}x the USB full-speed bulk ceiling)", flush=True)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    write("serial", {
        "repeats": args.repeats, "clips": args.clips, "frames": args.frames,
        "reference": {"usb_full_speed_bulk_bytes_per_s": USB_FS_BULK_BYTES_PER_S,
                      "source": "USB 2.0 specification, full-speed bulk: 19 x 64-byte transactions per 1 ms frame",
                      "audio_realtime_bytes_per_s": AUDIO_REALTIME_BYTES_PER_S},
        "results": results,
    })


if __name__ == "__main__":
    main()
