"""The .tlc format: exact round trips, the documented bit layout, and that bad bytes only
ever raise FormatError with a useful message."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telucodec.bitstream import (
    CRC_SIZE,
    HEADER_SIZE,
    CodecHeader,
    FormatError,
    decode_bytes,
    encode_bytes,
    load_codes,
    pack_codes,
    save_codes,
    unpack_codes,
)
from telucodec.errors import TeluCodecError

MODEL = "0123456789abcdef"
OTHER_MODEL = "fedcba9876543210"


def make_stream(n_q: int = 2, bits: int = 10, num_samples: int = 400, hop: int = 80,
                seed: int = 0) -> tuple[np.ndarray, CodecHeader]:
    header = CodecHeader(MODEL, 16000, hop, n_q, bits, num_samples)
    codes = np.random.default_rng(seed).integers(0, 1 << bits, (n_q, header.num_frames))
    return codes, header


def reference_pack(codes: np.ndarray, bits: int) -> bytes:
    """The FORMAT.md definition: little-endian bytes of sum(c_i << (i * bits))."""
    total = 0
    for i, code in enumerate(codes.reshape(-1).tolist()):
        total |= code << (i * bits)
    return total.to_bytes(-(-codes.size * bits // 8), "little")


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


# ---------------------------------------------------------------- packing


@pytest.mark.parametrize("bits", range(1, 17))
def test_pack_matches_reference_and_round_trips(bits):
    rng = np.random.default_rng(bits)
    for count in range(0, 26):  # covers every tail length of the 8-code groups
        codes = rng.integers(0, 1 << bits, count)
        packed = pack_codes(codes, bits)
        assert packed == reference_pack(codes, bits)
        out = unpack_codes(packed, count, bits)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, codes)


def test_pack_documented_example():
    assert pack_codes(np.array([1, 1023]), 10) == b"\x01\xfc\x0f"


@pytest.mark.parametrize("bad", [np.array([1024]), np.array([-1]), np.array([0.5])])
def test_pack_rejects_codes_that_do_not_fit(bad):
    with pytest.raises(FormatError):
        pack_codes(bad, 10)


@pytest.mark.parametrize("bits", [0, 17, True])
def test_pack_rejects_bad_bit_width(bits):
    with pytest.raises(FormatError, match="codebook bits"):
        pack_codes(np.array([0]), bits)


def test_unpack_rejects_wrong_length_and_padding():
    with pytest.raises(FormatError, match="need 3 bytes"):
        unpack_codes(b"\x00\x00", 2, 10)
    with pytest.raises(FormatError, match="padding"):
        unpack_codes(b"\x00\x00\x10", 2, 10)


def test_one_hour_at_16_kbps_round_trips():
    """An hour of codes at once (5.76 M): exact, and the documented size. Its speed is measured by
    ``python -m bench.pack_speed``."""
    codes = np.random.default_rng(0).integers(0, 1024, 3600 * 200 * 8)
    packed = pack_codes(codes, 10)
    assert len(packed) == codes.size * 10 // 8
    np.testing.assert_array_equal(unpack_codes(packed, codes.size, 10), codes)


# ---------------------------------------------------------------- streams


@pytest.mark.parametrize("bits", range(1, 17))
@pytest.mark.parametrize("n_q,num_samples,hop", [(1, 0, 80), (1, 1, 80), (3, 801, 80), (8, 1600, 80), (5, 7, 3)])
def test_stream_round_trip(bits, n_q, num_samples, hop):
    codes, header = make_stream(n_q, bits, num_samples, hop, seed=bits)
    data = encode_bytes(codes.astype(np.uint16), header)
    assert len(data) == header.stream_size
    out, out_header = decode_bytes(data, expected_model_id=MODEL)
    assert out_header == header
    assert out.shape == (n_q, -(-num_samples // hop)) and out.dtype == np.int64
    np.testing.assert_array_equal(out, codes)


def test_payload_is_frame_major():
    header = CodecHeader(MODEL, 16000, 80, 2, 8, 160)
    data = encode_bytes(np.array([[1, 2], [3, 4]]), header)
    assert data[HEADER_SIZE:-CRC_SIZE] == bytes([1, 3, 2, 4])


def test_header_is_small():
    assert HEADER_SIZE + CRC_SIZE == 35


@pytest.mark.parametrize("n_q", [1, 8])
def test_measured_bitrate_is_close_to_nominal(n_q):
    seconds = 10
    codes, header = make_stream(n_q, 10, seconds * 16000, 80)
    assert header.nominal_bitrate == 2000 * n_q
    measured = len(encode_bytes(codes, header)) * 8 / seconds
    assert header.nominal_bitrate <= measured <= 1.02 * header.nominal_bitrate


def test_encode_rejects_shape_mismatch():
    codes, header = make_stream(num_samples=400)
    with pytest.raises(FormatError, match="shape"):
        encode_bytes(codes[:, :-1], header)


@pytest.mark.parametrize("field,value", [
    ("model_id", "xyz"), ("model_id", MODEL.upper()), ("sample_rate", 0), ("hop_length", 0),
    ("n_q", 0), ("n_q", 256), ("codebook_bits", 17), ("num_samples", -1), ("sample_rate", 16000.0),
])
def test_header_rejects_bad_fields(field, value):
    fields = dict(model_id=MODEL, sample_rate=16000, hop_length=80, n_q=1, codebook_bits=10, num_samples=80)
    fields[field] = value
    with pytest.raises(FormatError):
        CodecHeader(**fields)


# ---------------------------------------------------------------- corruption


@pytest.fixture
def small_file() -> bytes:
    return encode_bytes(*make_stream(n_q=2, bits=10, num_samples=400))


def test_bad_magic(small_file):
    with pytest.raises(FormatError, match="not a .tlc stream"):
        decode_bytes(b"RIFF" + small_file[4:])
    with pytest.raises(FormatError, match="empty"):
        decode_bytes(b"")


@pytest.mark.parametrize("version,hint", [(3, "newer telucodec"), (0, "reads versions 1 and 2")])
def test_unsupported_version(small_file, version, hint):
    data = small_file[:4] + bytes([version]) + small_file[5:]
    with pytest.raises(FormatError, match=f"unsupported format version {version}.*{hint}"):
        decode_bytes(data)


def test_every_truncation_is_reported(small_file):
    for n in range(1, len(small_file)):
        with pytest.raises(FormatError, match="truncated"):
            decode_bytes(small_file[:n])


def test_trailing_garbage(small_file):
    with pytest.raises(FormatError, match="1 unexpected bytes after the end"):
        decode_bytes(small_file + b"\x00")


def test_every_flipped_byte_is_caught(small_file):
    for pos in range(len(small_file)):
        data = bytearray(small_file)
        data[pos] ^= 0x40
        with pytest.raises(FormatError) as info:
            decode_bytes(bytes(data))
        if pos >= HEADER_SIZE or 7 <= pos < 19:  # payload, CRC, model id, sample rate
            assert "CRC mismatch, the file is corrupted" in str(info.value)


def test_bad_header_field_with_valid_crc(small_file):
    body = bytearray(small_file[:-CRC_SIZE])
    body[19:23] = struct.pack("<I", 0)  # hop_length 0
    with pytest.raises(FormatError, match="invalid header: hop_length 0"):
        decode_bytes(with_crc(bytes(body)))


def test_wrong_model_id(small_file):
    with pytest.raises(FormatError, match=f"made by model {MODEL}, but this model is {OTHER_MODEL}"):
        decode_bytes(small_file, expected_model_id=OTHER_MODEL)


def test_huge_declared_size_does_not_allocate(small_file):
    body = bytearray(small_file[:-CRC_SIZE])
    body[23:31] = struct.pack("<Q", 2**64 - 1)
    with pytest.raises(FormatError, match="truncated"):
        decode_bytes(with_crc(bytes(body)))


# ---------------------------------------------------------------- fuzzing


def check_decode(data: bytes) -> None:
    """Decoding either fails with FormatError or returns codes that re-encode to ``data``."""
    try:
        codes, header = decode_bytes(data)
    except FormatError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert codes.shape == (header.n_q, header.num_frames) and codes.dtype == np.int64
    assert encode_bytes(codes, header) == data


@st.composite
def valid_streams(draw) -> bytes:
    bits = draw(st.integers(1, 16))
    n_q = draw(st.integers(1, 4))
    hop = draw(st.integers(1, 100))
    num_samples = draw(st.integers(0, 12 * hop))
    return encode_bytes(*make_stream(n_q, bits, num_samples, hop, seed=draw(st.integers(0, 2**32 - 1))))


@st.composite
def mutated_streams(draw) -> bytes:
    data = bytearray(draw(valid_streams()))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        # Past magic and version: the random-bytes and unit tests cover those.
        pos = draw(st.integers(min(5, len(data)), len(data)))
        if op == "flip" and pos < len(data):
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
    # Half the time re-seal the CRC so the checks behind it (fields, sizes, padding) get fuzzed too.
    if draw(st.booleans()) and len(data) > CRC_SIZE:
        data = bytearray(with_crc(bytes(data[:-CRC_SIZE])))
    return bytes(data)


FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(st.binary(max_size=64), st.binary(max_size=64).map(lambda b: b"TLUC\x01" + b)))
def test_fuzz_random_bytes(data):
    check_decode(data)


@FUZZ
@given(mutated_streams())
def test_fuzz_mutated_streams(data):
    check_decode(data)


# ---------------------------------------------------------------- files


def test_save_load_round_trip(tmp_path):
    codes, header = make_stream()
    path = tmp_path / "sub" / "x.tlc"
    save_codes(path, codes, header)
    out, out_header = load_codes(path, expected_model_id=MODEL)
    assert out_header == header
    np.testing.assert_array_equal(out, codes)
    assert os.listdir(path.parent) == ["x.tlc"]  # no temp file left behind


def test_load_errors_name_the_file(tmp_path):
    path = tmp_path / "x.tlc"
    with pytest.raises(TeluCodecError, match="x.tlc: no such file"):
        load_codes(path)
    with pytest.raises(TeluCodecError, match="is a folder"):
        load_codes(tmp_path)
    data = bytearray(encode_bytes(*make_stream()))
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"x\.tlc: CRC mismatch, the file is corrupted"):
        load_codes(path)
    path.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(FormatError, match=r"x\.tlc: not a \.tlc stream"):
        load_codes(path)
    path.write_bytes(encode_bytes(*make_stream()))
    with pytest.raises(FormatError, match=r"x\.tlc: made by model"):
        load_codes(path, expected_model_id=OTHER_MODEL)


def test_save_bad_codes_leaves_no_file(tmp_path):
    codes, header = make_stream()
    with pytest.raises(FormatError):
        save_codes(tmp_path / "x.tlc", codes + 1024, header)
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "x.tlc"
    path.write_bytes(b"old contents")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(TeluCodecError, match="x.tlc: cannot write \\(No space left on device\\)"):
        save_codes(path, *make_stream())
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["x.tlc"]
