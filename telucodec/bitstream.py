"""The ``.tlc`` codec file: a small header, the codes (bit-packed or entropy-coded), a CRC32.

Layout (all integers little-endian; docs/FORMAT.md has the byte table)::

    "TLUC" | version u8 | codebook_bits u8 | n_q u8 | model_id 8 B | sample_rate u32
    | hop_length u32 | num_samples u64 | payload | crc32 u32 (of everything before it)

Version 1: the payload holds ``n_q * num_frames`` codes of ``codebook_bits`` bits each,
frame-major (all quantizers of frame 0, then frame 1, ...), bit-packed LSB-first with zero
padding up to a whole byte. Version 2: the payload is the 8-byte id of the entropy model, then
the same codes range-coded with it (``entropy.EntropyModel``) as 32-bit words.
``num_frames = ceil(num_samples / hop_length)`` is derived, not stored.

Decoding trusts nothing: every malformed input raises ``FormatError`` with a one-line reason,
and sizes are checked against the real data length before anything is allocated.
"""
from __future__ import annotations

import functools
import numbers
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .entropy import EntropyModel
from .fileio import atomic_write, require_file
from .errors import TeluCodecError

MAGIC = b"TLUC"
FORMAT_VERSION = 2        # entropy-coded; the newest version this telucodec reads and writes
PACKED_VERSION = 1        # fixed-width bit-packed codes, written when no entropy model is given
ENTROPY_ID_SIZE = 8
_HEADER = struct.Struct("<4sBBB8sIIQ")
HEADER_SIZE = _HEADER.size  # 31 bytes
CRC_SIZE = 4
MAX_BITS = 16  # codes are unpacked into uint16
_MODEL_ID = re.compile(r"[0-9a-f]{16}")


class FormatError(TeluCodecError):
    """Codes or bytes that do not form a valid ``.tlc`` stream (bad magic, CRC, sizes, fields)."""


@dataclass(frozen=True)
class CodecHeader:
    """Everything needed to check and decode a code stream.

    ``model_id`` is 16 lowercase hex chars (8 bytes): a hash of the model's weights and config,
    so a file is never silently decoded by a model that did not make it. ``num_samples`` is
    the original signal length, so decoding trims the last, partly padded frame exactly.
    Raises FormatError when a field is out of range or does not fit its on-disk width.
    """

    model_id: str
    sample_rate: int
    hop_length: int
    n_q: int
    codebook_bits: int
    num_samples: int

    def __post_init__(self) -> None:
        if not isinstance(self.model_id, str) or not _MODEL_ID.fullmatch(self.model_id):
            raise FormatError(f"model id must be 16 lowercase hex characters, got {self.model_id!r}")
        for name, low, high in (
            ("sample_rate", 1, 2**32 - 1),
            ("hop_length", 1, 2**32 - 1),
            ("n_q", 1, 255),
            ("codebook_bits", 1, MAX_BITS),
            ("num_samples", 0, 2**64 - 1),
        ):
            value = getattr(self, name)
            # numbers.Integral admits numpy integers; bool is an int but never a valid field.
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise FormatError(f"{name} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise FormatError(f"{name} {value} is out of range [{low}, {high}]")

    @property
    def num_frames(self) -> int:
        """Frames of codes: the encoder pads the signal to a whole number of hops."""
        return -(-self.num_samples // self.hop_length)

    @property
    def nominal_bitrate(self) -> float:
        """Payload bits per second of audio: n_q * codebook_bits * frame rate."""
        return self.n_q * self.codebook_bits * self.sample_rate / self.hop_length

    @property
    def stream_size(self) -> int:
        """Total size in bytes of a version-1 stream: header + packed payload + CRC."""
        payload_bits = self.n_q * self.num_frames * self.codebook_bits
        return HEADER_SIZE + -(-payload_bits // 8) + CRC_SIZE


def _check_bits(bits: int) -> None:
    if not isinstance(bits, numbers.Integral) or isinstance(bits, bool) or not 1 <= bits <= MAX_BITS:
        raise FormatError(f"codebook bits must be an integer in [1, {MAX_BITS}], got {bits!r}")


@functools.lru_cache(maxsize=MAX_BITS)
def _overlaps(bits: int) -> tuple[tuple[int, int, int, int, int], ...]:
    """Where the 8 codes of a group meet the ``bits`` bytes of that group.

    8 codes of ``bits`` bits fill exactly ``bits`` bytes, so packing works on (8, groups)
    code rows and (bits, groups) byte rows. Each entry (code, byte, code_shift, byte_shift,
    mask) says: bits ``code_shift..`` of that code sit at bits ``byte_shift..`` of that byte.
    At most ``bits + 7`` entries, so the numpy loops below run a handful of whole-array ops.
    """
    entries = []
    for code in range(8):
        for byte in range(bits):
            low = max(code * bits, byte * 8)
            high = min((code + 1) * bits, (byte + 1) * 8)
            if low < high:
                entries.append((code, byte, low - code * bits, low - byte * 8, (1 << (high - low)) - 1))
    return tuple(entries)


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Bit-pack integer codes, ``bits`` bits each, LSB-first, in C order of ``codes``.

    Code ``i`` occupies stream bits ``[i*bits, (i+1)*bits)``; stream bit ``k`` is bit
    ``k % 8`` of byte ``k // 8``. The last byte is zero-padded. Returns
    ``ceil(codes.size * bits / 8)`` bytes. Raises FormatError for non-integer codes or
    values outside ``[0, 2**bits)``.
    """
    _check_bits(bits)
    codes = np.asarray(codes)
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise FormatError(f"codes must be integers, got dtype {codes.dtype}")
    flat = codes.reshape(-1)
    count = flat.size
    if count and (flat.min() < 0 or flat.max() >= 1 << bits):
        raise FormatError(f"codes must lie in [0, {1 << bits}) for {bits}-bit codebooks, "
                          f"got values in [{flat.min()}, {flat.max()}]")
    groups = -(-count // 8)
    # Zero codes pad the tail to a whole group; they pack to the zero padding bits.
    padded = np.zeros(groups * 8, dtype=np.uint16)
    padded[:count] = flat
    code_rows = np.ascontiguousarray(padded.reshape(groups, 8).T)
    byte_rows = np.zeros((bits, groups), dtype=np.uint16)
    for code, byte, code_shift, byte_shift, mask in _overlaps(bits):
        byte_rows[byte] |= ((code_rows[code] >> code_shift) & mask) << byte_shift
    packed = byte_rows.T.astype(np.uint8).tobytes()
    return packed[: -(-count * bits // 8)]


def unpack_codes(data: bytes, count: int, bits: int) -> np.ndarray:
    """Inverse of ``pack_codes``: ``count`` codes of ``bits`` bits from ``data``.

    Returns int64 of shape (count,) (int64 because torch embedding lookups take it).
    Raises FormatError unless ``len(data) == ceil(count * bits / 8)`` and the padding bits
    are zero (so every code sequence has exactly one encoding).
    """
    _check_bits(bits)
    if not isinstance(count, numbers.Integral) or count < 0:
        raise FormatError(f"code count must be a non-negative integer, got {count!r}")
    expected = -(-count * bits // 8)
    if len(data) != expected:
        raise FormatError(f"{count} codes of {bits} bits need {expected} bytes, got {len(data)}")
    raw = np.frombuffer(data, dtype=np.uint8)
    pad_bits = expected * 8 - count * bits
    if pad_bits and raw[-1] >> (8 - pad_bits):
        raise FormatError("non-zero padding bits after the last code")
    groups = -(-count // 8)
    padded = np.zeros(groups * bits, dtype=np.uint16)
    padded[:expected] = raw
    byte_rows = np.ascontiguousarray(padded.reshape(groups, bits).T)
    code_rows = np.zeros((8, groups), dtype=np.uint16)
    for code, byte, code_shift, byte_shift, mask in _overlaps(bits):
        code_rows[code] |= ((byte_rows[byte] >> byte_shift) & mask) << code_shift
    return code_rows.T.reshape(-1)[:count].astype(np.int64)


def encode_bytes(codes: np.ndarray, header: CodecHeader, entropy: EntropyModel | None = None) -> bytes:
    """Serialise codes of shape (n_q, num_frames), any integer dtype, into a ``.tlc`` stream:
    version 2 (range-coded with ``entropy``) when an entropy model is given, else version 1.

    Raises FormatError when the shape does not match the header or a code does not fit.
    """
    codes = np.asarray(codes)
    expected_shape = (header.n_q, header.num_frames)
    if codes.shape != expected_shape:
        raise FormatError(f"codes have shape {codes.shape}, the header needs {expected_shape} "
                          f"(n_q, ceil(num_samples / hop_length))")
    # Frame-major (transpose) so a reader can decode frame t once its n_q codes have arrived.
    payload = pack_codes(codes.T, header.codebook_bits)   # also checks that every code fits
    version = PACKED_VERSION
    if entropy is not None:
        if entropy.codebook_size != 1 << header.codebook_bits:
            raise FormatError(f"the entropy model codes {entropy.codebook_size} codes, the header "
                              f"{1 << header.codebook_bits}")
        version, payload = FORMAT_VERSION, bytes.fromhex(entropy.model_id) + entropy.encode(codes)
    head = _HEADER.pack(MAGIC, version, header.codebook_bits, header.n_q,
                        bytes.fromhex(header.model_id), header.sample_rate, header.hop_length,
                        header.num_samples)
    body = head + payload
    return body + struct.pack("<I", zlib.crc32(body))


def check_header(header: CodecHeader, model: CodecHeader) -> None:
    """Raise FormatError unless a file's ``header`` can be decoded by the model whose own header
    (at its full n_q) is ``model``: same model id, sample rate, hop and codebook bits, and
    1 <= n_q <= the model's n_q. Called before any payload is decoded or audio allocated, so a
    header that lies (hop 1 declaring a long signal) cannot make the decoder synthesise more than
    ``num_samples`` rounded up to one of the model's hops."""
    if header.model_id != model.model_id:
        raise FormatError(f"made by model {header.model_id}, but this model is {model.model_id}; "
                          f"decode with the model that encoded it")
    wrong = [f"{label} {getattr(header, name)}{unit} (the model's is {getattr(model, name)})"
             for name, label, unit in (("sample_rate", "sample rate", " Hz"), ("hop_length", "hop", ""),
                                       ("codebook_bits", "codebook bits", ""))
             if getattr(header, name) != getattr(model, name)]
    if header.n_q > model.n_q:
        wrong.append(f"n_q {header.n_q} (the model has {model.n_q})")
    if wrong:
        raise FormatError(f"header does not match its model: {', '.join(wrong)}")


def decode_bytes(data: bytes, expected_model_id: str | None = None, entropy: EntropyModel | None = None,
                 model: CodecHeader | None = None) -> tuple[np.ndarray, CodecHeader]:
    """Parse and fully validate a ``.tlc`` stream (version 1, or 2 given its ``entropy`` model).

    Returns (codes int64 of shape (n_q, num_frames), header). Raises FormatError, and only
    FormatError, for anything wrong: magic, version, truncation, trailing bytes, CRC, field
    ranges, padding, a model id other than ``expected_model_id`` when one is given, a header
    that ``check_header`` finds at odds with ``model`` (the decoding model's own header), and
    for version 2 a missing or different entropy model or a payload that does not decode.
    """
    header, version, payload = parse_stream(data)
    if expected_model_id is not None and header.model_id != expected_model_id:
        raise FormatError(f"made by model {header.model_id}, but this model is {expected_model_id}; "
                          f"decode with the model that encoded it")
    if model is not None:
        check_header(header, model)
    if version == PACKED_VERSION:
        flat = unpack_codes(payload, header.n_q * header.num_frames, header.codebook_bits)
        return flat.reshape(header.num_frames, header.n_q).T.copy(), header
    return _entropy_decode(payload, header, entropy), header


def _entropy_decode(payload: memoryview, header: CodecHeader, entropy: EntropyModel | None) -> np.ndarray:
    """The codes of a version-2 payload: the entropy model's id, then its range-coded words."""
    stream_id = bytes(payload[:ENTROPY_ID_SIZE]).hex()
    if entropy is None:
        raise FormatError(f"entropy-coded with tables {stream_id}, but this model has no entropy model "
                          f"(fit one with telucodec fit-entropy)")
    if stream_id != entropy.model_id:
        raise FormatError(f"entropy-coded with tables {stream_id}, but this model's are {entropy.model_id}")
    if header.n_q > entropy.n_q or 1 << header.codebook_bits != entropy.codebook_size:
        raise FormatError(f"{header.n_q} quantizers of {header.codebook_bits} bits do not fit the entropy "
                          f"model ({entropy.n_q} quantizers of {entropy.codebook_size} codes)")
    try:
        return entropy.decode(bytes(payload[ENTROPY_ID_SIZE:]), header.n_q, header.num_frames)
    except TeluCodecError as exc:
        raise FormatError(str(exc)) from None


def parse_stream(data: bytes) -> tuple[CodecHeader, int, memoryview]:
    """Check a stream's magic, version, size and CRC, and its header's fields.

    Returns (header, format version, payload bytes). Raises FormatError for anything wrong.
    """
    _check_magic(data)
    if len(data) < len(MAGIC) + 1:
        raise FormatError(f"truncated: {len(data)} bytes, the header alone needs {HEADER_SIZE}")
    version = data[len(MAGIC)]
    if version not in (PACKED_VERSION, FORMAT_VERSION):
        newer = " (written by a newer telucodec; upgrade to read it)" if version > FORMAT_VERSION else ""
        raise FormatError(f"unsupported format version {version}, this telucodec reads versions "
                          f"{PACKED_VERSION} and {FORMAT_VERSION}{newer}")
    minimum = HEADER_SIZE + CRC_SIZE + (ENTROPY_ID_SIZE if version == FORMAT_VERSION else 0)
    if len(data) < minimum:
        raise FormatError(f"truncated: {len(data)} bytes, the header and CRC alone need {minimum}")
    _, _, bits, n_q, model_id, sample_rate, hop_length, num_samples = _HEADER.unpack_from(data)
    try:
        header: CodecHeader | None = CodecHeader(model_id.hex(), sample_rate, hop_length, n_q, bits,
                                                 num_samples)
        field_error = None
    except FormatError as exc:
        header, field_error = None, exc
    if header is not None:
        _check_size(data, header, version)
    (stored_crc,) = struct.unpack_from("<I", data, len(data) - CRC_SIZE)
    if zlib.crc32(memoryview(data)[:-CRC_SIZE]) != stored_crc:
        raise FormatError("CRC mismatch, the file is corrupted")
    if header is None:
        # The CRC holds, so the bytes are as written: the writer itself produced a bad header.
        raise FormatError(f"invalid header: {field_error}")
    return header, version, memoryview(data)[HEADER_SIZE:-CRC_SIZE]


def _check_size(data: bytes, header: CodecHeader, version: int) -> None:
    """A version-1 stream has exactly the size its header declares; a version-2 payload is the
    entropy model id plus whole 32-bit words. Sizes are Python ints, checked before any numpy
    work: a corrupted num_samples must not make us allocate terabytes."""
    if version == FORMAT_VERSION:
        words = len(data) - HEADER_SIZE - CRC_SIZE - ENTROPY_ID_SIZE
        if words % 4:
            raise FormatError(f"truncated or extended: the {words}-byte entropy-coded payload is not "
                              f"whole 32-bit words")
    elif len(data) < header.stream_size:
        raise FormatError(f"truncated: the header declares {header.stream_size} bytes but "
                          f"only {len(data)} are present")
    elif len(data) > header.stream_size:
        raise FormatError(f"{len(data) - header.stream_size} unexpected bytes after the end of the "
                          f"{header.stream_size}-byte stream (trailing garbage or a corrupted header)")


def _check_magic(data: bytes) -> None:
    """Reject non-``.tlc`` input; a strict prefix of the magic counts as truncation."""
    if not data:
        raise FormatError("empty, not a .tlc stream")
    head = bytes(data[: len(MAGIC)])
    if head != MAGIC[: len(head)]:
        raise FormatError(f"not a .tlc stream (starts with {head!r}, expected {MAGIC!r})")


def save_codes(path: str | os.PathLike, codes: np.ndarray, header: CodecHeader,
               entropy: EntropyModel | None = None) -> None:
    """Write codes (n_q, num_frames) and header to ``path`` atomically (version 2, entropy-coded,
    when ``entropy`` is given, else version 1).

    The stream is built before the file is touched, so bad codes (FormatError) leave no
    file behind; an I/O failure raises TeluCodecError naming the file and leaves any
    existing file unchanged.
    """
    blob = encode_bytes(codes, header, entropy)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(blob))


def load_codes(path: str | os.PathLike, expected_model_id: str | None = None,
               entropy: EntropyModel | None = None, model: CodecHeader | None = None
               ) -> tuple[np.ndarray, CodecHeader]:
    """Read and validate a ``.tlc`` file (``decode_bytes``); returns (codes int64 (n_q, num_frames), header).
    Version-2 files need the ``entropy`` model of the model that wrote them.

    Raises TeluCodecError for a missing or unreadable file and FormatError (whose message
    starts with the path) for bad contents.
    """
    data = _read(path)
    try:
        return decode_bytes(data, expected_model_id, entropy, model)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None


def load_header(path: str | os.PathLike) -> tuple[CodecHeader, int]:
    """(header, format version) of a ``.tlc`` file whose size and CRC check out, without
    decoding its codes (so no model is needed). Errors as ``load_codes``."""
    data = _read(path)
    try:
        header, version, _ = parse_stream(data)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    return header, version


def _read(path: str | os.PathLike) -> bytes:
    path = require_file(path, "a .tlc file")
    try:
        with open(path, "rb") as f:
            # Check the magic first so a large non-.tlc file (say, a WAV) is not read whole.
            head = f.read(len(MAGIC))
            try:
                _check_magic(head)
            except FormatError as exc:
                raise FormatError(f"{path}: {exc}") from None
            return head + f.read()
    except OSError as exc:
        raise TeluCodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
