"""Is a model limited by its quantizer, its magnitudes or its phase? Oracle swaps.

For each clip and bitrate, the decoded audio and the input are cut into STFT frames (the
model's own hop, n_fft = 4 x hop) and recombined two ways: the model's magnitudes with the
input's phase, and the input's magnitudes with the model's phase. PESQ-WB of each says how much
quality perfect phase (or perfect magnitudes) would buy. A last row decodes the encoder's
continuous latent with the quantizer left out: what infinite bitrate would give this
encoder and decoder.

    python -m bench.phase_oracle --audio-dir DIR [--model PATH] [--kbps 6 16]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import telucodec
from telucodec.audio import find_audio_files, load_audio
from telucodec.metrics import pesq_wb
from telucodec.model import TeluCodec
from telucodec.spectral import ISTFT, STFT


def swap(ref: np.ndarray, out: np.ndarray, hop: int) -> dict[str, np.ndarray]:
    """Audio with the magnitudes of one signal and the phase of the other, both ways.

    ``ref`` and ``out`` are float (samples,) of one length, longer than 2 x ``hop``; STFT frames of
    n_fft = 4 x ``hop``, reflect-padded at the ends (torch.stft's default, which the E6/E11 numbers used).
    """
    stft, inverse = STFT(4 * hop, hop, pad_mode="reflect"), ISTFT(4 * hop, hop)

    def istft(spec: torch.Tensor) -> np.ndarray:
        return inverse(spec, len(ref))[0].numpy()

    r, o = (stft(torch.from_numpy(x).float()[None]) for x in (ref, out))
    return {"model magnitude + true phase": istft(torch.polar(o.abs(), r.angle())),
            "true magnitude + model phase": istft(torch.polar(r.abs(), o.angle()))}


def unquantized(model: TeluCodec, ref: np.ndarray) -> np.ndarray:
    """``ref`` through the encoder and decoder alone, the quantizer left out (one pass, no chunks)."""
    return model.autoencode(torch.from_numpy(ref).float()[None, None])[0, 0].numpy()


def oracle_row(ref: np.ndarray, out: np.ndarray, hop: int) -> list[float]:
    """PESQ-WB of the decoded audio and of both magnitude/phase swaps."""
    return [pesq_wb(ref, out), *(pesq_wb(ref, x) for x in swap(ref, out, hop).values())]


def print_row(label: str, rows: list[list[float]]) -> None:
    """One table row: ``label`` and the mean of each column of ``rows`` (NaN scores left out)."""
    means = np.nanmean(np.array(rows), axis=0)
    print(f"| {label} | " + " | ".join(f"{m:.2f}" for m in means) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio-dir", type=Path, required=True)
    parser.add_argument("--model", help="telucodec model; default: the shipped one")
    parser.add_argument("--kbps", type=float, nargs="+", default=[6, 16])
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec = telucodec.load(args.model)
    files = find_audio_files(args.audio_dir)
    print(f"{len(files)} clips, PESQ-WB means")
    print("| kbps | model | model magnitude + true phase | true magnitude + model phase |")
    print("|---|---|---|---|")
    clips = [load_audio(path, codec.sample_rate) for path in files]
    hop = codec.config.hop_length
    for kbps in args.kbps:
        n_q = codec.n_q_for_kbps(kbps)
        rows = [oracle_row(ref, codec.decode(codec.encode(ref, codec.sample_rate, n_q=n_q), len(ref)), hop)
                for ref in clips]
        print_row(f"{codec.config.kbps(n_q):g}", rows)
    print_row("no quantizer", [oracle_row(ref, unquantized(codec.model, ref), hop) for ref in clips])


if __name__ == "__main__":
    main()
