"""Reference speech codecs for the telucodec benchmark, run through their command-line tools.

Each codec family has one function taking 16 kHz mono float32 audio and returning a
``CodecResult``: the decoded audio at 16 kHz, delay-compensated and trimmed/padded to the
input length, plus the payload bits the encoder produced.

Payload bits exclude container overhead, so every codec is charged only for what a
real-time transport would carry as payload:

- Opus, Speex: the encoders write Ogg files. We parse the Ogg pages, rebuild the packets
  from the lacing values and sum the lengths of the audio packets, skipping the two
  header packets (OpusHead/OpusTags, Speex header/comments; speexenc writes no extra
  headers). Ogg page headers and segment tables are not counted. An Opus packet's TOC
  byte is counted (RTP carries it).
- Codec2, G.722: the tools write headerless raw frame files, so the file size is the payload.
- LC3: ``elc3`` writes an 18-byte file header then one 2-byte length prefix per frame;
  we count only the frame bytes.
- AMR-WB: encoded in-process with Debian's VisualOn encoder library (there is no CLI) in
  RFC 4867 storage format; we count the codec bits of each frame's type (e.g. 477 for
  23.85 kbps), excluding the storage-format TOC byte and byte padding.

Delay is found per clip by cross-correlation, not taken from a table, because a tool
chain's delay is not always constant: speexdec usually removes the codec's 221-223 sample
wideband delay but on some files does not (2 of 18 clips, both at quality 2; the same clips
at other qualities were fine). Codec2 is the exception: it keeps no waveform phase to correlate, so its
measured fixed delay is used.

Every tool that is missing raises ``MissingTool`` naming the Debian package that provides it.
"""
from __future__ import annotations

import ctypes
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from bench.common import SAMPLE_RATE
from telucodec.errors import TeluCodecError

# Delay search window. Delays found on 18 Telugu clips (espeak-ng and MBROLA voices), in
# samples at 16 kHz: Opus -3..1, G.722 22, AMR-WB 94-95, LC3 0, Speex 0 or 221-223.
MAX_DELAY_SAMPLES = 800  # 50 ms

OPUS_APPLICATION_VOIP = "4000=2048"  # OPUS_SET_APPLICATION(OPUS_APPLICATION_VOIP)
OPUS_FORCE_WIDEBAND = "4008=1103"  # OPUS_SET_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND)

# speexenc --quality for each wideband (sub-band CELP) mode, keyed by its nominal kbps
# (table "Quality versus bit-rate" of the Speex manual, wideband column).
SPEEX_WB_QUALITY = {7.75: 2, 9.8: 3, 12.8: 4, 16.8: 5, 23.8: 7}

# AMR-WB (3GPP TS 26.201) speech modes 0-8 by nominal kbps.
AMRWB_MODES = {6.6: 0, 8.85: 1, 12.65: 2, 14.25: 3, 15.85: 4, 18.25: 5, 19.85: 6, 23.05: 7, 23.85: 8}
# Codec bits per 20 ms frame for each frame type (FT 0-8 speech, 9 SID, 14/15 lost/no data).
AMRWB_FRAME_BITS = {0: 132, 1: 177, 2: 253, 3: 285, 4: 317, 5: 365, 6: 397, 7: 461, 8: 477, 9: 40, 14: 0, 15: 0}
AMRWB_FRAME_SAMPLES = 320
AMRWB_LIBRARY = "libvo-amrwbenc.so.0"

# Codec2 transmits no phase, so cross-correlation cannot find its delay (peaks wandered
# over 65-698 samples on six clips); it is taken as fixed. Its 3200 mode's delay is one
# 20 ms frame: 320 samples at 16 kHz, where STOI and log-mel distance over those clips
# were best (within +-10 samples).
CODEC2_DELAY_SAMPLES = 320


class MissingTool(TeluCodecError):
    """A codec's encoder/decoder is not installed; ``package`` is the Debian package to install."""

    def __init__(self, tool: str, package: str):
        super().__init__(f"{tool} not found; install the Debian package '{package}'")
        self.tool = tool
        self.package = package


@dataclass(frozen=True)
class CodecResult:
    """One clip through one codec setting.

    ``decoded`` is 16 kHz float32 with the same length as the input, delay compensated;
    ``delay`` is the number of samples the decoder output lagged the input by.
    """

    decoded: np.ndarray
    payload_bits: int
    label: str
    family: str
    nominal_kbps: float
    delay: int


# ---------------------------------------------------------------- delay compensation


def estimate_delay(ref: np.ndarray, decoded: np.ndarray, max_lag: int = MAX_DELAY_SAMPLES) -> int:
    """Lag in samples (positive: ``decoded`` is late) maximising the cross-correlation.

    Only lags in [-max_lag, max_lag] are considered; 0 is returned when none correlates
    positively (e.g. a silent clip). The peak is taken on the signed correlation because
    none of these codecs inverts polarity.
    """
    ref = np.asarray(ref, dtype=np.float64)
    decoded = np.asarray(decoded, dtype=np.float64)
    nfft = 1 << int(np.ceil(np.log2(len(ref) + len(decoded))))
    corr = np.fft.irfft(np.fft.rfft(decoded, nfft) * np.conj(np.fft.rfft(ref, nfft)), nfft)
    lags = np.arange(-max_lag, max_lag + 1)
    best = int(lags[np.argmax(corr[lags])])  # negative indices wrap round to negative lags
    return best if corr[best] > 0 else 0


def shift_to_length(decoded: np.ndarray, delay: int, length: int) -> np.ndarray:
    """Drop ``delay`` leading samples (or prepend zeros if negative), then trim/zero-pad to ``length``."""
    decoded = np.asarray(decoded, dtype=np.float32)
    decoded = decoded[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay, np.float32), decoded])
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(decoded))] = decoded[:length]
    return out


def align(ref: np.ndarray, decoded: np.ndarray, max_lag: int = MAX_DELAY_SAMPLES) -> tuple[np.ndarray, int]:
    """Delay-compensate ``decoded`` against ``ref``; returns (aligned audio of ``len(ref)``, delay)."""
    delay = estimate_delay(ref, decoded, max_lag)
    return shift_to_length(decoded, delay, len(ref)), delay


# ---------------------------------------------------------------- helpers


def _tool(name: str, package: str) -> str:
    """Absolute path of a command-line tool, or MissingTool naming its Debian package."""
    path = shutil.which(name)
    if path is None:
        raise MissingTool(name, package)
    return path


def _run(cmd: list[str]) -> None:
    """Run a codec tool; a failure becomes a one-line TeluCodecError with its last stderr line."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise TeluCodecError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {lines[-1] if lines else ''}")


def _to_int16(wav: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(wav, dtype=np.float64), -1.0, 1.0) * 32767.0).round().astype(np.int16)


def _write_pcm_wav(path: Path, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    sf.write(str(path), _to_int16(wav), sample_rate, subtype="PCM_16")


def _read_wav(path: Path) -> np.ndarray:
    """Decoded WAV as 16 kHz mono float32 (decoders write 16-bit PCM at the stream rate)."""
    wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
    wav = wav.mean(axis=1)
    return soxr.resample(wav, rate, SAMPLE_RATE, quality="HQ").astype(np.float32) if rate != SAMPLE_RATE else wav


def _read_raw_s16(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0


def _result(
    ref: np.ndarray, decoded: np.ndarray, payload_bits: int, label: str, family: str, nominal_kbps: float,
    fixed_delay: int | None = None,
) -> CodecResult:
    """Package a decode, compensating ``fixed_delay`` when given, else the cross-correlation delay."""
    if fixed_delay is None:
        aligned, delay = align(ref, decoded)
    else:
        aligned, delay = shift_to_length(decoded, fixed_delay, len(ref)), fixed_delay
    return CodecResult(aligned, int(payload_bits), label, family, float(nominal_kbps), delay)


def ogg_packet_lengths(data: bytes) -> list[int]:
    """Lengths of the packets of a single-stream Ogg file, in order.

    A packet is the sum of consecutive lacing values up to and including the first one
    below 255; a packet may continue onto the next page (its page ends with a 255).
    """
    lengths: list[int] = []
    current = 0
    pos = 0
    while pos + 27 <= len(data):
        if data[pos : pos + 4] != b"OggS":
            raise TeluCodecError("malformed Ogg stream: page does not start with 'OggS'")
        n_segments = data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + n_segments]
        for value in lacing:
            current += value
            if value < 255:
                lengths.append(current)
                current = 0
        pos += 27 + n_segments + sum(lacing)
    return lengths


def _ogg_audio_payload_bits(path: Path) -> int:
    """Bits in the audio packets of an Opus/Speex Ogg file (the first two packets are headers)."""
    return 8 * sum(ogg_packet_lengths(path.read_bytes())[2:])


def _kbps_label(kbps: float) -> str:
    return f"{kbps:g}k"


# ---------------------------------------------------------------- codecs


def opus(wav16k: np.ndarray, kbps: float, force_wideband: bool) -> CodecResult:
    """Opus (opusenc/opusdec) in speech mode, 20 ms frames, unconstrained VBR.

    Speech mode is ``--speech`` (OPUS_SET_SIGNAL voice) plus OPUS_SET_APPLICATION VOIP via
    ``--set-ctl-int`` (opusenc has no application flag; ffmpeg's ``-application voip`` is
    the same setting). ``force_wideband`` adds OPUS_SET_BANDWIDTH wideband; without it
    libopus chooses the bandwidth itself (narrowband at 6 kbps). Input is 16 kHz, so even
    libopus's own choice never exceeds wideband.
    """
    enc, dec = _tool("opusenc", "opus-tools"), _tool("opusdec", "opus-tools")
    ctls = [OPUS_APPLICATION_VOIP] + ([OPUS_FORCE_WIDEBAND] if force_wideband else [])
    with tempfile.TemporaryDirectory() as tmp:
        src, bits, out = Path(tmp, "in.wav"), Path(tmp, "enc.opus"), Path(tmp, "out.wav")
        _write_pcm_wav(src, wav16k)
        ctl_args = [arg for ctl in ctls for arg in ("--set-ctl-int", ctl)]
        _run([enc, "--quiet", "--speech", "--vbr", "--framesize", "20", "--bitrate", f"{kbps:g}", *ctl_args,
              str(src), str(bits)])
        _run([dec, "--quiet", "--rate", str(SAMPLE_RATE), str(bits), str(out)])
        decoded = _read_wav(out)
        payload = _ogg_audio_payload_bits(bits)
    family = "Opus (WB)" if force_wideband else "Opus (auto bw)"
    label = f"opus-{'wb' if force_wideband else 'auto'}-{_kbps_label(kbps)}"
    return _result(wav16k, decoded, payload, label, family, kbps)


def codec2_3200(wav16k: np.ndarray) -> CodecResult:
    """Codec2 3200 (c2enc/c2dec): resampled to 8 kHz, coded, resampled back.

    The delay is the fixed CODEC2_DELAY_SAMPLES, measured for this mode. A ``.bin``
    output name makes c2enc write headerless frames, so the file size is the payload.
    """
    enc, dec = _tool("c2enc", "codec2"), _tool("c2dec", "codec2")
    with tempfile.TemporaryDirectory() as tmp:
        src, bits, out = Path(tmp, "in.raw"), Path(tmp, "enc.bin"), Path(tmp, "out.raw")
        _to_int16(soxr.resample(wav16k, SAMPLE_RATE, 8000, quality="HQ")).tofile(src)
        _run([enc, "3200", str(src), str(bits)])
        _run([dec, "3200", str(bits), str(out)])
        decoded = soxr.resample(_read_raw_s16(out), 8000, SAMPLE_RATE, quality="HQ")
        payload = 8 * bits.stat().st_size
    return _result(wav16k, decoded, payload, "codec2-3200", "Codec2", 3.2, fixed_delay=CODEC2_DELAY_SAMPLES)


def speex_wb(wav16k: np.ndarray, kbps: float) -> CodecResult:
    """Speex wideband CBR at the quality whose nominal rate is ``kbps`` (a key of SPEEX_WB_QUALITY)."""
    if kbps not in SPEEX_WB_QUALITY:
        raise ValueError(f"Speex wideband has no mode at {kbps} kbps; choose from {sorted(SPEEX_WB_QUALITY)}")
    enc, dec = _tool("speexenc", "speex"), _tool("speexdec", "speex")
    with tempfile.TemporaryDirectory() as tmp:
        src, bits, out = Path(tmp, "in.wav"), Path(tmp, "enc.spx"), Path(tmp, "out.wav")
        _write_pcm_wav(src, wav16k)
        _run([enc, "--wideband", "--quality", str(SPEEX_WB_QUALITY[kbps]), str(src), str(bits)])
        _run([dec, str(bits), str(out)])
        decoded = _read_wav(out)
        payload = _ogg_audio_payload_bits(bits)
    return _result(wav16k, decoded, payload, f"speex-wb-{_kbps_label(kbps)}", "Speex WB", kbps)


def g722(wav16k: np.ndarray) -> CodecResult:
    """G.722 at 64 kbit/s through ffmpeg's encoder (its only rate) into a raw ``g722`` stream."""
    quiet = [_tool("ffmpeg", "ffmpeg"), "-nostdin", "-v", "error", "-y"]
    pcm_in = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        src, bits, out = Path(tmp, "in.raw"), Path(tmp, "enc.g722"), Path(tmp, "out.raw")
        _to_int16(wav16k).tofile(src)
        _run([*quiet, *pcm_in, "-i", str(src), "-c:a", "g722", "-f", "g722", str(bits)])
        _run([*quiet, "-f", "g722", "-i", str(bits), *pcm_in, str(out)])
        decoded = _read_raw_s16(out)
        payload = 8 * bits.stat().st_size
    return _result(wav16k, decoded, payload, "g722-64k", "G.722", 64.0)


def _amrwb_encode(wav16k: np.ndarray, mode: int) -> bytes:
    """AMR-WB frames in RFC 4867 storage format (TOC byte + payload each) via libvo-amrwbenc.

    Debian ships the VisualOn encoder only as a library (no CLI), so it is called with
    ctypes: ``E_IF_init()``, ``E_IF_encode(state, mode, short[320], out, dtx)`` -> bytes
    written, ``E_IF_exit(state)``.
    """
    try:
        lib = ctypes.CDLL(AMRWB_LIBRARY)
    except OSError:
        raise MissingTool(AMRWB_LIBRARY, "libvo-amrwbenc0") from None
    lib.E_IF_init.restype = ctypes.c_void_p
    lib.E_IF_encode.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.POINTER(ctypes.c_ubyte), ctypes.c_int,
    ]
    lib.E_IF_encode.restype = ctypes.c_int
    lib.E_IF_exit.argtypes = [ctypes.c_void_p]
    pcm = _to_int16(wav16k)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % AMRWB_FRAME_SAMPLES, np.int16)])
    state = lib.E_IF_init()
    out_buf = (ctypes.c_ubyte * 64)()  # largest frame is 61 bytes
    frames = bytearray()
    try:
        for start in range(0, len(pcm), AMRWB_FRAME_SAMPLES):
            frame = np.ascontiguousarray(pcm[start : start + AMRWB_FRAME_SAMPLES])
            n = lib.E_IF_encode(state, mode, frame.ctypes.data_as(ctypes.POINTER(ctypes.c_short)), out_buf, 0)
            frames += bytes(out_buf[:n])
    finally:
        lib.E_IF_exit(state)
    return bytes(frames)


def amrwb_payload_bits(frames: bytes) -> int:
    """Codec bits in RFC 4867 storage-format AMR-WB frames, read from each frame's TOC byte."""
    bits, pos = 0, 0
    while pos < len(frames):
        frame_type = (frames[pos] >> 3) & 0x0F
        frame_bits = AMRWB_FRAME_BITS[frame_type]
        bits += frame_bits
        pos += 1 + (frame_bits + 7) // 8
    return bits


def amr_wb(wav16k: np.ndarray, kbps: float) -> CodecResult:
    """AMR-WB at ``kbps`` (a key of AMRWB_MODES), DTX off; decoded by ffmpeg's native decoder."""
    if kbps not in AMRWB_MODES:
        raise ValueError(f"AMR-WB has no mode at {kbps} kbps; choose from {sorted(AMRWB_MODES)}")
    ffmpeg = _tool("ffmpeg", "ffmpeg")
    frames = _amrwb_encode(wav16k, AMRWB_MODES[kbps])
    with tempfile.TemporaryDirectory() as tmp:
        bits, out = Path(tmp, "enc.awb"), Path(tmp, "out.raw")
        bits.write_bytes(b"#!AMR-WB\n" + frames)
        _run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(bits),
              "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", str(out)])
        decoded = _read_raw_s16(out)
    label = f"amrwb-{_kbps_label(kbps)}"
    return _result(wav16k, decoded, amrwb_payload_bits(frames), label, "AMR-WB", kbps)


def lc3_payload_bits(data: bytes) -> int:
    """Frame bits of an ``elc3`` file: skip its header (size in bytes 2-3), then each frame is a
    little-endian uint16 length followed by that many bytes."""
    (header_size,) = struct.unpack_from("<H", data, 2)
    bits, pos = 0, header_size
    while pos + 2 <= len(data):
        (n,) = struct.unpack_from("<H", data, pos)
        bits += 8 * n
        pos += 2 + n
    return bits


def lc3(wav16k: np.ndarray, kbps: float, frame_ms: float = 10) -> CodecResult:
    """LC3 (elc3/dlc3 from liblc3) at ``kbps`` with ``frame_ms`` frames, 16 kHz."""
    enc, dec = _tool("elc3", "liblc3-tools"), _tool("dlc3", "liblc3-tools")
    with tempfile.TemporaryDirectory() as tmp:
        src, bits, out = Path(tmp, "in.wav"), Path(tmp, "enc.lc3"), Path(tmp, "out.wav")
        _write_pcm_wav(src, wav16k)
        _run([enc, "-b", str(round(kbps * 1000)), "-m", f"{frame_ms:g}", str(src), str(bits)])
        _run([dec, str(bits), str(out)])
        decoded = _read_wav(out)
        payload = lc3_payload_bits(bits.read_bytes())
    return _result(wav16k, decoded, payload, f"lc3-{_kbps_label(kbps)}", "LC3", kbps)
