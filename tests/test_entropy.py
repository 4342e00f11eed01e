"""Entropy-coded codes (.tlc version 2): exact round trips, integer tables that decode identically
on every float path and thread count, and corrupted payloads that only ever give a FormatError."""
from __future__ import annotations

import json
import subprocess
import sys

import constriction
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telucodec.bitstream import CRC_SIZE, CodecHeader, FormatError, decode_bytes, encode_bytes
from telucodec.entropy import TOTAL, EntropyDecodeError, EntropyModel
from telucodec.entropy_fit import fit_entropy_model, integer_weights

MODEL = "0123456789abcdef"
BITS, N_Q, HOP = 4, 3, 80


def markov_clips(count: int, frames: int = 60, seed: int = 0) -> list[np.ndarray]:
    """Codes (N_Q, frames) with the structure real codes have: the first quantizer moves slowly,
    the others depend on it."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(count):
        first = np.cumsum(rng.integers(-1, 2, frames)) % 16
        rest = [(first * (q + 2) + rng.integers(0, 3, frames)) % 16 for q in range(1, N_Q)]
        clips.append(np.stack([first, *rest]).astype(np.int64))
    return clips


@pytest.fixture(scope="module")
def entropy() -> EntropyModel:
    return fit_entropy_model(markov_clips(20), 1 << BITS)


def stream(codes: np.ndarray, entropy: EntropyModel | None) -> bytes:
    header = CodecHeader(MODEL, 16000, HOP, codes.shape[0], BITS, codes.shape[1] * HOP - 7)
    return encode_bytes(codes, header, entropy)


def test_round_trip_is_exact_and_smaller(entropy):
    for n_q in range(1, N_Q + 1):
        for codes in markov_clips(10, seed=1):
            codes = codes[:n_q]
            data = stream(codes, entropy)
            assert data[4] == 2
            out, header = decode_bytes(data, MODEL, entropy)
            np.testing.assert_array_equal(out, codes)
            assert len(data) < len(stream(codes, None))


def test_random_codes_round_trip(entropy):
    """Codes the model finds unlikely still code exactly (every symbol keeps a probability)."""
    codes = np.random.default_rng(3).integers(0, 1 << BITS, (N_Q, 200))
    np.testing.assert_array_equal(decode_bytes(stream(codes, entropy), MODEL, entropy)[0], codes)


def test_integer_weights_rows_sum_exactly():
    rows = integer_weights(np.random.default_rng(0).random((50, 16)) ** 8)
    assert (rows.sum(axis=1) == TOTAL - 16).all() and rows.min() >= 0


def test_float32_float64_and_probability_inputs_give_identical_streams(entropy):
    """The quantized distribution is (w + 1) / 2**24 however the weights reach constriction: the
    tables go in as exact integers, so no float rounding can differ between machines."""
    codes = markov_clips(1, frames=300, seed=5)[0]
    rows = entropy.contexts(codes).T.reshape(-1)
    symbols = codes.T.reshape(-1).astype(np.int32)
    expected = stream(codes, entropy)
    payload = expected[31 + 8:-CRC_SIZE]
    for table in (entropy.weights.astype(np.float32), entropy.weights.astype(np.float64),
                  entropy.weights / float(TOTAL)):
        family = constriction.stream.model.Categorical(perfect=False)
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(symbols, family, np.ascontiguousarray(table[rows]))
        assert encoder.get_compressed().astype("<u4").tobytes() == payload


DECODE_IN_SUBPROCESS = """
import sys, json, numpy as np
from telucodec.bitstream import decode_bytes
from telucodec.entropy import EntropyModel
tables = np.load(sys.argv[1])
entropy = EntropyModel.from_tensors({k: tables[k] for k in tables.files})
codes, _ = decode_bytes(open(sys.argv[2], "rb").read(), None, entropy)
print(json.dumps(codes.tolist()))
"""


def test_decodes_identically_with_another_thread_count(entropy, tmp_path):
    """The tests run with one thread (conftest); a process with two decodes the same codes."""
    threads = "2"
    codes = markov_clips(1, frames=100, seed=7)[0]
    (tmp_path / "x.tlc").write_bytes(stream(codes, entropy))
    np.savez(tmp_path / "tables.npz", **entropy.to_tensors())
    env = {k: threads for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", DECODE_IN_SUBPROCESS, tmp_path / "tables.npz", tmp_path / "x.tlc"],
                         capture_output=True, text=True, check=True, env={**__import__("os").environ, **env})
    np.testing.assert_array_equal(np.array(json.loads(out.stdout)), codes)


def test_tables_survive_the_tensor_round_trip(entropy):
    again = EntropyModel.from_tensors(entropy.to_tensors())
    assert again.model_id == entropy.model_id
    codes = markov_clips(1, seed=2)[0]
    assert stream(codes, again) == stream(codes, entropy)


def test_inconsistent_tables_are_rejected(entropy):
    tensors = entropy.to_tensors()
    bad = dict(tensors, **{"entropy.weights": tensors["entropy.weights"] + 1})
    with pytest.raises(Exception, match="sum to"):
        EntropyModel.from_tensors(bad)
    sources = tensors["entropy.sources"].copy()
    sources[0, 0] = [0, 0]                      # the first code predicted from itself
    with pytest.raises(Exception, match="decoded before"):
        EntropyModel.from_tensors(dict(tensors, **{"entropy.sources": sources}))


def test_stream_needs_the_entropy_model_that_wrote_it(entropy):
    codes = markov_clips(1)[0]
    data = stream(codes, entropy)
    with pytest.raises(FormatError, match="no entropy model"):
        decode_bytes(data, MODEL)
    other = fit_entropy_model(markov_clips(20, seed=9), 1 << BITS)
    with pytest.raises(FormatError, match="entropy-coded with tables"):
        decode_bytes(data, MODEL, other)
    # a version-1 stream still decodes when the model has an entropy model
    np.testing.assert_array_equal(decode_bytes(stream(codes, None), MODEL, entropy)[0], codes)


def test_payload_promising_more_codes_than_it_can_hold(entropy):
    with pytest.raises(EntropyDecodeError, match="cannot hold"):
        entropy.decode(b"\x00" * 4, N_Q, 10**9)


# ---------------------------------------------------------------- fuzzing


def check_decode(data: bytes, entropy: EntropyModel) -> None:
    """Decoding fails with a one-line FormatError or returns valid codes of the declared shape.

    (Not necessarily the codes that re-encode to ``data``: a range coder's last words may take
    several values that decode alike. Corruption is the CRC's to catch; a payload altered behind
    a re-sealed CRC must still give bounded work and the declared length.)"""
    try:
        codes, header = decode_bytes(data, None, entropy)
    except FormatError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert codes.shape == (header.n_q, header.num_frames) and codes.dtype == np.int64
    assert codes.size == 0 or 0 <= codes.min() <= codes.max() < entropy.codebook_size


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.data())
def test_fuzz_corrupted_v2_streams(entropy, data):
    codes = markov_clips(1, frames=data.draw(st.integers(1, 40)), seed=data.draw(st.integers(0, 99)))[0]
    blob = bytearray(stream(codes[: data.draw(st.integers(1, N_Q))], entropy))
    for _ in range(data.draw(st.integers(1, 3))):
        if len(blob) <= 6:
            break
        pos = data.draw(st.integers(5, len(blob) - 1))
        op = data.draw(st.sampled_from(["flip", "truncate", "delete_word", "insert_word"]))
        if op == "flip":
            blob[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "truncate":
            del blob[pos:]
        elif op == "delete_word":
            del blob[pos:pos + 4]
        else:
            blob[pos:pos] = data.draw(st.binary(min_size=4, max_size=4))
    if data.draw(st.booleans()) and len(blob) > CRC_SIZE:   # re-seal: fuzz the entropy decoder itself
        import zlib
        body = bytes(blob[:-CRC_SIZE])
        blob = bytearray(body + zlib.crc32(body).to_bytes(4, "little"))
    check_decode(bytes(blob), entropy)
