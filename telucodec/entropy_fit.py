"""Fitting the entropy model (``entropy.EntropyModel``) on the codes of a set of speech clips.

For every quantizer a few context designs (which two earlier codes, how many clusters) are tried;
the codes of each source are clustered by the distribution of the code they predict
(distributional clustering with the KL divergence: Dhillon, Mallela & Kumar, "A Divisive
Information-Theoretic Feature Clustering Algorithm for Text Classification", JMLR 2003), counts are
smoothed towards the quantizer's unigram distribution, and the design and smoothing that give the
fewest bits on held-out clips are refitted on all clips and rounded to integer weights.
Floats are used only here; the stored tables are integers (see ``entropy`` on determinism).
"""
from __future__ import annotations

import numpy as np

from .entropy import TOTAL, EntropyModel
from .errors import TeluCodecError

Source = tuple[int, int]            # (quantizer j, frames back d)
Design = tuple[Source, int, Source, int]
SMOOTHING = (0.03, 0.1, 0.3, 1.0)   # prior weight per symbol, relative to the codebook size


def candidate_designs(q: int) -> list[Design]:
    """Context designs tried for quantizer ``q``: ((source a, clusters), (source b, clusters)).

    Measured on the v4 model (docs/EXPERIMENTS.md, E13): the first quantizer is best
    predicted by its own previous code, the second by the first, and the residual stages by the
    first quantizer of the same frame together with their own previous code or the stage below.
    """
    if q == 0:
        return [((0, 1), 128, (0, 1), 1)]
    designs = [((q - 1, 0), 64, (q - 1, 0), 1), ((0, 0), 16, (q, 1), 4)]
    if q >= 2:
        designs.append(((0, 0), 16, (q - 1, 0), 4))
    return designs


def distributional_clusters(source: np.ndarray, target: np.ndarray, count: int, size: int,
                            iterations: int = 15) -> np.ndarray:
    """Cluster id (size,) int64 in [0, count) of every source code, grouping codes whose
    conditional distributions of ``target`` are close in KL divergence (k-means in KL)."""
    if count <= 1:
        return np.zeros(size, dtype=np.int64)
    joint = np.zeros((size, size))
    np.add.at(joint, (source, target), 1.0)
    joint += 0.1                                       # every code has a (flat) distribution
    centroids = joint[np.argsort(-joint.sum(axis=1), kind="stable")[:count]]
    centroids = centroids / centroids.sum(axis=1, keepdims=True)
    for _ in range(iterations):
        assign = (joint @ np.log(centroids).T).argmax(axis=1)   # max log-likelihood = min KL
        for k in range(count):
            members = joint[assign == k]
            if len(members):
                centroids[k] = members.sum(axis=0) / members.sum()
    return assign


def _source_codes(clips: list[np.ndarray], source: Source) -> np.ndarray:
    j, back = source
    return np.concatenate([np.concatenate([np.zeros(back, np.int64), c[j, : c.shape[1] - back]]) for c in clips])


def _fit_design(clips: list[np.ndarray], q: int, design: Design, size: int):
    """(clusters (2, size) of the two sources' codes, the codes of quantizer ``q`` in order)."""
    (source_a, count_a, source_b, count_b) = design
    target = np.concatenate([c[q] for c in clips])
    codes_a, codes_b = _source_codes(clips, source_a), _source_codes(clips, source_b)
    clusters = np.stack([distributional_clusters(codes_a, target, count_a, size),
                         distributional_clusters(codes_b, target, count_b, size)])
    return clusters, target


def _rows(clips: list[np.ndarray], design: Design, clusters: np.ndarray) -> np.ndarray:
    source_a, _, source_b, count_b = design
    return clusters[0][_source_codes(clips, source_a)] * count_b + clusters[1][_source_codes(clips, source_b)]


def _probabilities(rows: np.ndarray, target: np.ndarray, contexts: int, size: int, alpha: float) -> np.ndarray:
    """Counts per context smoothed towards the unigram: (n(c, s) + a K u(s)) / (n(c) + a K)."""
    unigram = np.bincount(target, minlength=size) + 1.0
    unigram /= unigram.sum()
    counts = np.zeros((contexts, size))
    np.add.at(counts, (rows, target), 1.0)
    return (counts + alpha * size * unigram) / (counts.sum(axis=1, keepdims=True) + alpha * size)


def integer_weights(probabilities: np.ndarray) -> np.ndarray:
    """Rows of int64 weights >= 0 summing to ``2**24 - K`` (largest remainders round up), so that
    ``(w + 1) / 2**24`` is the nearest fixed-point distribution to each row."""
    free = TOTAL - probabilities.shape[1]
    scaled = probabilities / probabilities.sum(axis=1, keepdims=True) * free
    weights = np.floor(scaled).astype(np.int64)
    short = free - weights.sum(axis=1)
    order = np.argsort(-(scaled - weights), axis=1, kind="stable")
    for row, missing in enumerate(short):
        weights[row, order[row, :missing]] += 1
    return weights


def _held_out_bits(fit: list[np.ndarray], held: list[np.ndarray], q: int, design: Design, size: int):
    """(bits per code on ``held``, smoothing) of the best smoothing for ``design`` fitted on ``fit``."""
    clusters, target = _fit_design(fit, q, design, size)
    contexts = design[1] * design[3]
    rows, held_rows = _rows(fit, design, clusters), _rows(held, design, clusters)
    held_target = np.concatenate([c[q] for c in held])
    return min((float(-np.log2(_probabilities(rows, target, contexts, size, a)[held_rows, held_target]).mean()), a)
               for a in SMOOTHING)


def fit_entropy_model(clips: list[np.ndarray], codebook_size: int, held_out_every: int = 10) -> EntropyModel:
    """An EntropyModel for codes like ``clips`` (each int (n_q, frames), same n_q).

    Every ``held_out_every``-th clip is held out to pick each quantizer's design and smoothing;
    the choice is then refitted on all clips. Raises TeluCodecError with fewer than 2 clips.
    """
    if len(clips) < 2:
        raise TeluCodecError(f"fitting an entropy model needs at least 2 clips, got {len(clips)}")
    clips = [np.asarray(c, dtype=np.int64) for c in clips]
    held = clips[::held_out_every]
    fit = [c for i, c in enumerate(clips) if i % held_out_every]
    sources, clusters, sizes, weights = [], [], [], []
    for q in range(clips[0].shape[0]):
        designs = [(a, min(count_a, codebook_size), b, min(count_b, codebook_size))
                   for a, count_a, b, count_b in candidate_designs(q)]
        scored = [(_held_out_bits(fit, held, q, design, codebook_size), design) for design in designs]
        (_, alpha), design = min(scored)
        chosen, target = _fit_design(clips, q, design, codebook_size)
        contexts = design[1] * design[3]
        probabilities = _probabilities(_rows(clips, design, chosen), target, contexts, codebook_size, alpha)
        sources.append([design[0], design[2]])
        clusters.append(chosen)
        sizes.append([design[1], design[3]])
        weights.append(integer_weights(probabilities))
    return EntropyModel(np.array(sources), np.stack(clusters), np.array(sizes), np.concatenate(weights))
