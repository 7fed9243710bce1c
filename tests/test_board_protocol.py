"""The serial protocol: message round trips, the resynchronising reader, limits, versions, C header."""
from __future__ import annotations

import random
import struct
import zlib

import pytest

from tinymlkit.board import protocol as p
from tinymlkit.board.c_header import library_header_path, render_c_header
from tinymlkit.errors import KitError


def _messages() -> list[p.Message]:
    return [
        p.Hello(0x1A2B3C4D, "nano33 capture", 7, 16000, 16000, 160, 120, p.PIXEL_FORMATS["RGB565_BE"]),
        p.AudioClip(16000, bytes(range(256)) * 125),
        p.ImageFrame(4, 3, p.PIXEL_FORMATS["GRAY8"], bytes(range(12))),
        p.ImageFrame(2, 2, p.PIXEL_FORMATS["RGB565_LE"], bytes(range(8))),
        p.ImageFrame(5, 5, p.PIXEL_FORMATS["JPEG"], b"\xff\xd8 not really a jpeg \xff\xd9"),
        p.InferenceResult(123456, 7890, 2, 200, bytes([10, 20, 200, 25]), "yes"),
        p.LogLine(p.LOG_LEVELS["INFO"], "héllo"),
        p.Command(p.COMMANDS["CAPTURE_AUDIO"], 20),
        p.BoardError(p.ERROR_CODES["SENSOR"], "camera not found"),
        p.Status(p.COMMANDS["CAPTURE_AUDIO"], p.STATUS_STATES["DONE"], 20),
        p.Timing(p.TIMING_SOURCES["MEASURED"], p.TIMING_STEPS["INFERENCE"], 20, 9800, 10100, 11000, 10200,
                 64_000_000, "Invoke()"),
    ]


def test_crc_is_the_standard_crc32():
    assert p.crc32(b"123456789") == 0xCBF43926  # the CRC-32/IEEE check value
    assert p.crc32(b"456789", p.crc32(b"123")) == 0xCBF43926


@pytest.mark.parametrize("msg", _messages(), ids=lambda m: type(m).__name__)
def test_every_message_round_trips(msg):
    frame = p.message_frame(msg, seq=200)
    assert frame[:2] == p.SYNC
    assert struct.unpack_from("<I", frame, 4)[0] == len(frame) - p.FRAME_OVERHEAD
    assert struct.unpack_from("<I", frame, len(frame) - 4)[0] == zlib.crc32(frame[:-4])
    decoded = p.decode_frame(frame)
    assert decoded.seq == 200 and decoded.type == msg.SPEC.code
    assert p.decode_message(decoded) == msg


def test_stream_split_at_every_byte_gives_the_same_frames():
    stream = b"".join(p.message_frame(m, i) for i, m in enumerate(_messages()))
    rng = random.Random(1)
    for _ in range(20):
        parser = p.FrameParser()
        got, i = [], 0
        while i < len(stream):
            n = rng.randint(1, 300)
            got += parser.feed(stream[i:i + n])
            i += n
        assert [p.decode_message(f) for f in got] == _messages()
        assert parser.stats.clean and parser.pending == 0


def test_random_garbage_between_frames_is_dropped_and_counted():
    rng = random.Random(7)
    msgs = _messages()
    stream, garbage = bytearray(), 0
    for i, m in enumerate(msgs):
        junk = bytearray(rng.randbytes(rng.randint(0, 400)))
        for _ in range(rng.randint(0, 3)):  # false starts: sync bytes then a nonsense header
            k = rng.randrange(0, max(1, len(junk) - 1))
            junk[k:k + 2] = p.SYNC
        garbage += len(junk)
        stream += junk + p.message_frame(m, i)
    parser = p.FrameParser()
    got = []
    for k in range(0, len(stream), 97):
        got += parser.feed(stream[k:k + 97])
    got += parser.flush_stalled() if parser.pending else []
    assert [p.decode_message(f) for f in got] == msgs
    assert parser.stats.dropped_bytes == garbage
    assert parser.stats.resyncs >= 1 and parser.stats.seq_gaps == 0


def test_bad_crc_frame_is_dropped_and_the_next_frame_still_read():
    a = p.message_frame(p.LogLine(1, "first"), 0)
    bad = bytearray(p.message_frame(p.AudioClip(16000, b"\x01\x02" * 50), 1))
    bad[20] ^= 0x01
    c = p.message_frame(p.LogLine(1, "third"), 2)
    parser = p.FrameParser()
    got = parser.feed(a + bytes(bad) + c)
    assert [p.decode_message(f).text for f in got] == ["first", "third"]
    assert parser.stats.crc_errors == 1
    assert parser.stats.dropped_bytes == len(bad)
    assert parser.stats.seq_gaps == 1  # frame 1 never arrived


def test_too_long_length_is_refused_without_waiting_for_it():
    head = p.SYNC + struct.pack("<BBI", p.TYPE_BY_NAME["AUDIO"].code, 0, p.TYPE_BY_NAME["AUDIO"].max_payload + 1)
    good = p.message_frame(p.LogLine(1, "after"), 1)
    parser = p.FrameParser()
    got = parser.feed(head + good)
    assert [p.decode_message(f).text for f in got] == ["after"]
    assert parser.stats.bad_lengths == 1 and parser.pending == 0


def test_cut_frame_followed_by_frames_recovers_at_once():
    cut = p.message_frame(p.AudioClip(16000, bytes(2000)), 0)[:700]
    rest = [p.message_frame(p.LogLine(1, f"line {i}"), i + 1) for i in range(3)]
    parser = p.FrameParser()
    got = parser.feed(cut + b"".join(rest))
    # The cut frame's declared length swallows the next frames until its CRC fails; then they are found.
    got += parser.feed(bytes(2000))
    assert [p.decode_message(f).text for f in got] == ["line 0", "line 1", "line 2"]
    assert parser.stats.crc_errors == 1


def test_cut_frame_at_the_end_is_given_up_by_flush_stalled():
    tail = p.message_frame(p.Status(2, 2, 5), 1)
    cut = p.message_frame(p.AudioClip(16000, bytes(2000)), 0)[:700]
    parser = p.FrameParser()
    assert parser.feed(cut + tail) == []  # waiting for the rest of the audio frame
    got = parser.flush_stalled()
    assert [p.decode_message(f) for f in got] == [p.Status(2, 2, 5)]
    assert parser.stats.cut_frames == 1 and parser.pending == 0


def test_unknown_type_is_skipped():
    fake = p.SYNC + struct.pack("<BBI", 0x7E, 0, 4) + b"abcd"
    fake += struct.pack("<I", zlib.crc32(fake))
    parser = p.FrameParser()
    got = parser.feed(fake + p.message_frame(p.LogLine(1, "ok"), 0))
    assert [f.name for f in got] == ["LOG"]
    assert parser.stats.unknown_types == 1


def test_encoder_refuses_payloads_outside_the_limits():
    with pytest.raises(p.ProtocolError, match="outside"):
        p.encode_frame("AUDIO", bytes(p.TYPE_BY_NAME["AUDIO"].max_payload + 1))
    with pytest.raises(p.ProtocolError):
        p.encode_frame("COMMAND", bytes(7))
    with pytest.raises(p.ProtocolError, match="should hold"):
        p.ImageFrame.parse(p.ImageFrame(4, 4, p.PIXEL_FORMATS["GRAY8"], bytes(15)).payload())


def test_every_type_has_a_bounded_payload():
    for t in p.FRAME_TYPES:
        assert 0 <= t.min_payload <= t.max_payload <= p.MAX_IMAGE_BYTES + 8, t.name
    assert len({t.code for t in p.FRAME_TYPES}) == len(p.FRAME_TYPES)


@pytest.mark.parametrize("version,advice", [(2, "update tinymlkit"), (0, "flash the sketch")])
def test_other_protocol_version_gets_a_clear_message(version, advice):
    payload = bytearray(p.Hello(1, "x").payload())
    payload[0:2] = struct.pack("<H", version)
    with pytest.raises(p.ProtocolVersionError) as e:
        p.decode_message(p.Frame(p.TYPE_BY_NAME["HELLO"].code, 0, bytes(payload)), "/dev/ttyACM0")
    text = str(e.value)
    assert "/dev/ttyACM0" in text and f"version {version}" in text and advice in text
    assert isinstance(e.value, KitError)


def test_a_newer_hello_with_more_fields_still_reports_its_version():
    payload = struct.pack("<H", 3) + bytes(300)  # longer than a version-1 hello
    frame = p.encode_frame("HELLO", payload)
    parser = p.FrameParser()
    (f,) = parser.feed(frame)
    with pytest.raises(p.ProtocolVersionError, match="version 3"):
        p.decode_message(f)


def test_committed_c_header_equals_a_fresh_render():
    path = library_header_path()
    assert path is not None and path.is_file(), "arduino_sketches/libraries/TinyMLKit/src/kit_protocol.h is missing"
    assert path.read_text(encoding="utf-8") == render_c_header(), (
        "kit_protocol.h is out of date: run 'tinymlkit generate-protocol-header'")


def test_c_header_carries_every_code_and_offset():
    text = render_c_header()
    for t in p.FRAME_TYPES:
        assert f"#define KIT_FRAME_{t.name} 0x{t.code:02X}u" in text
        assert f"#define KIT_{t.name}_MAX_PAYLOAD {t.max_payload}u" in text
        for f, off in t.offsets():
            assert f"#define KIT_{t.name}_OFF_{f.name.upper()} {off}u" in text
    for k, v in p.COMMANDS.items():
        assert f"#define KIT_CMD_{k} {v}u" in text
    assert f"#define KIT_PROTOCOL_VERSION {p.PROTOCOL_VERSION}u" in text


def test_protocol_document_tables_equal_a_fresh_render():
    from tinymlkit.board.spec_doc import BEGIN, END, doc_path, render_markdown_tables

    path = doc_path()
    assert path is not None, "docs/serial_protocol.md is missing"
    assert f"{BEGIN}\n{render_markdown_tables()}{END}" in path.read_text(encoding="utf-8"), (
        "docs/serial_protocol.md tables are out of date: run 'tinymlkit generate-protocol-header'")


def _false_header_flood(total: int) -> bytes:
    """Headers that each claim the largest image, one every 8 bytes: every one looks like a frame start."""
    spec = p.TYPE_BY_NAME["IMAGE"]
    head = p.SYNC + struct.pack("<BBI", spec.code, 0, spec.max_payload)
    return head * (total // len(head))


def test_a_flood_of_false_headers_costs_bounded_crc_work_and_good_frames_still_arrive():
    flood = _false_header_flood(300_000)
    before = p.message_frame(p.LogLine(1, "before"), 0)
    after = [p.message_frame(p.LogLine(1, f"after {i}"), i + 1) for i in range(3)]
    stream = before + flood + b"".join(after)
    parser = p.FrameParser()
    got = []
    for k in range(0, len(stream), 4096):
        got += parser.feed(stream[k:k + 4096])
    got += parser.flush_stalled()  # one quiet spell gives up every false header still waiting
    assert [p.decode_message(f).text for f in got] == ["before", "after 0", "after 1", "after 2"]
    s = parser.stats
    assert parser.pending == 0 and s.dropped_bytes == len(flood)
    # Without a bound each of the ~37,000 headers would cost a 153 KB CRC (5.7 GB in all).
    assert s.crc_bytes <= p.CRC_WORK_PER_BYTE * len(stream) + p.CRC_WORK_RESERVE
    assert s.unchecked_headers > 0 and "unchecked headers" in s.describe()


def test_the_crc_budget_does_not_lose_a_damaged_large_frame_then_a_good_one():
    # The normal bad case must still be checked in full: a damaged full-size image, then a good one.
    spec = p.TYPE_BY_NAME["IMAGE"]
    img = p.ImageFrame(320, 240, p.PIXEL_FORMATS["RGB565_LE"], bytes(range(256)) * 600)
    bad = bytearray(p.message_frame(img, 0))
    bad[5000] ^= 1
    good = p.message_frame(img, 1)
    parser = p.FrameParser()
    got = parser.feed(bytes(bad) + good)
    assert [p.decode_message(f) for f in got] == [img]
    assert parser.stats.crc_errors == 1 and parser.stats.unchecked_headers == 0
    assert len(good) - p.FRAME_OVERHEAD == spec.max_payload


def test_flush_stalled_gives_up_every_waiting_false_header_at_once():
    parser = p.FrameParser()
    assert parser.feed(_false_header_flood(8_000) + p.message_frame(p.LogLine(1, "ok"), 0)) == []
    got = parser.flush_stalled()
    assert [p.decode_message(f).text for f in got] == ["ok"]
    assert parser.pending == 0 and parser.stats.cut_frames == 1000
