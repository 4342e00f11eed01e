"""How many bits entropy coding of the codes could save (an estimate, not a coder).

Fits a unigram prior per codebook (code counts + 1) on the codes of one folder and measures the
cross-entropy of another folder's codes under it: the size an arithmetic coder with those priors
would reach, against the fixed ``codebook_bits`` per code of the .tlc format.

    python -m bench.code_entropy --model runs/default --fit-dir corpus/train --eval-dir corpus/heldout
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import telucodec
from bench.common import evenly_spread
from telucodec.audio import find_audio_files, load_audio


def folder_codes(codec: telucodec.Codec, folder: Path, max_files: int) -> np.ndarray:
    """Codes of up to ``max_files`` files spread over the folder, concatenated: (n_q, frames)."""
    files = find_audio_files(folder)
    return np.concatenate([codec.encode(load_audio(files[i], codec.sample_rate), codec.sample_rate)
                           for i in evenly_spread(len(files), max_files)], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--fit-dir", type=Path, required=True)
    parser.add_argument("--eval-dir", type=Path, required=True)
    parser.add_argument("--max-files", type=int, default=300)
    args = parser.parse_args()
    codec = telucodec.load(args.model)
    fit = folder_codes(codec, args.fit_dir, args.max_files)
    held = folder_codes(codec, args.eval_dir, args.max_files)
    size = codec.config.quantizer.codebook_size
    print(f"fit on {fit.shape[1]} frames, evaluated on {held.shape[1]} frames; {codec.codebook_bits} bits/code fixed")
    print("| quantizer | bits/code (prior) | saving |")
    print("|---|---|---|")
    totals = []
    for q in range(codec.max_n_q):
        prior = (np.bincount(fit[q], minlength=size) + 1.0) / (fit.shape[1] + size)
        bits = float(-np.log2(prior[held[q]]).mean())
        totals.append(bits)
        print(f"| q{q + 1} | {bits:.2f} | {100 * (1 - bits / codec.codebook_bits):.1f}% |")
    for n_q, kbps in codec.bitrates():
        coded = sum(totals[:n_q]) * codec.config.frame_rate / 1000
        print(f"n_q={n_q}: {kbps:g} kbps fixed -> {coded:.2f} kbps with unigram priors "
              f"({100 * (1 - coded / kbps):.1f}% saved)")


if __name__ == "__main__":
    main()
