"""Context-model entropy coding of the codes (the payload of ``.tlc`` format version 2).

The code ``c[q, t]`` (quantizer ``q``, frame ``t``) is coded with a categorical distribution picked
by a small context: the clusters of two earlier codes, its *sources*, each a code of some quantizer
``j`` in the same frame (``j < q``) or in the previous frame (any ``j``). Which sources, how many
clusters, and the code -> cluster lookup tables are fitted per quantizer (``entropy_fit``), so the
context is a pure integer function of codes already decoded.

Determinism: the distributions are stored as integer weight tables whose rows sum to
``2**PRECISION - codebook_size``. constriction's fast quantizer (``Categorical(perfect=False)``)
turns weights ``w`` into the fixed-point probabilities ``(w + 1) / 2**PRECISION`` exactly: its
normaliser is the sum of the weights (an exact float sum, every partial sum being an integer
below ``2**24``), its scale is then exactly 1, and every cumulative weight is an exact integer.
No float arithmetic that could round differently on another CPU, thread count or BLAS is left;
the tests check that float32, float64 and probability-scaled inputs give identical streams.

The arithmetic coder is constriction's range coder (R. Bamler, "Understanding Entropy Coding With
Asymmetric Numeral Systems (ANS): a Statistician's Perspective", 2022;
https://github.com/bamler-lab/constriction).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .errors import TeluCodecError

PRECISION = 24               # constriction's default range coder: 24-bit fixed-point probabilities
TOTAL = 1 << PRECISION
PREFIX = "entropy."          # tensor names of the entropy model inside a model's safetensors file
_NAMES = ("sources", "clusters", "sizes", "weights")


class EntropyDecodeError(TeluCodecError):
    """An entropy-coded payload that does not decode to the declared number of codes."""


@dataclass(frozen=True, eq=False)
class EntropyModel:
    """Integer context tables for coding codes of shape (n_q, frames), K codes per codebook.

    ``sources`` (n_q, 2, 2) int: quantizer q's two sources as (quantizer j, frames back d), d in
    {0, 1}, j <= q, and j < q when d = 0; a source before frame 0 reads as code 0.
    ``clusters`` (n_q, 2, K) int: cluster id of each source's code.
    ``sizes`` (n_q, 2) int: cluster counts (A_q, B_q); quantizer q's context is
    ``offset_q + a * B_q + b`` with ``offset_q = sum over j < q of A_j * B_j``.
    ``weights`` (contexts, K) int: the distribution of a code in a context is
    ``(weights + 1) / 2**24``; every row sums to ``2**24 - K``.
    Raises TeluCodecError when the tables are inconsistent.
    """

    sources: np.ndarray
    clusters: np.ndarray
    sizes: np.ndarray
    weights: np.ndarray
    _models: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n_q = self.sources.shape[0] if self.sources.ndim == 3 else 0
        size = self.weights.shape[-1] if self.weights.ndim == 2 else 0
        if (n_q < 1 or self.sources.shape != (n_q, 2, 2) or self.clusters.shape != (n_q, 2, size)
                or self.sizes.shape != (n_q, 2) or not 2 <= size < TOTAL // 2):
            raise TeluCodecError("entropy model: tables of inconsistent shapes")
        j, back = self.sources[..., 0], self.sources[..., 1]
        # j <= q also for the previous frame, so that the first n_q quantizers alone can be coded
        q = np.arange(n_q)[:, None]
        if ((back < 0) | (back > 1) | (j < 0) | (j > q) | ((back == 0) & (j == q))).any():
            raise TeluCodecError("entropy model: a source is not a code decoded before the one it predicts")
        if (self.sizes < 1).any() or (self.clusters < 0).any() or (self.clusters >= self.sizes[..., None]).any():
            raise TeluCodecError("entropy model: cluster ids out of range")
        if self.weights.shape[0] != int(self.sizes.prod(axis=1).sum()):
            raise TeluCodecError("entropy model: the weight table does not have one row per context")
        if self.weights.min() < 0 or (self.weights.sum(axis=1) != TOTAL - size).any():
            raise TeluCodecError(f"entropy model: every weight row must be >= 0 and sum to 2**{PRECISION} - {size}")

    @property
    def n_q(self) -> int:
        return self.sources.shape[0]

    @property
    def codebook_size(self) -> int:
        return self.weights.shape[1]

    @property
    def model_id(self) -> str:
        """16 hex chars: a hash of the tables, stored in every entropy-coded stream."""
        digest = hashlib.sha256()
        for name in _NAMES:
            array = getattr(self, name)
            digest.update(f"{name}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        return digest.hexdigest()[:16]

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The tables as named int32 arrays, for a safetensors file (see ``from_tensors``)."""
        return {PREFIX + name: np.ascontiguousarray(getattr(self, name), dtype=np.int32) for name in _NAMES}

    @classmethod
    def from_tensors(cls, tensors: dict) -> "EntropyModel":
        """The model from ``to_tensors`` output (numpy arrays or torch tensors); TeluCodecError if incomplete."""
        missing = [PREFIX + name for name in _NAMES if PREFIX + name not in tensors]
        if missing:
            raise TeluCodecError(f"entropy model: missing tensors {', '.join(missing)}")
        return cls(**{name: np.asarray(tensors[PREFIX + name]).astype(np.int64) for name in _NAMES})

    # ------------------------------------------------------------------ coding
    def _offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes.prod(axis=1))[:-1]])

    def _constriction_models(self) -> list:
        """One constriction model per context row, built once (a few ms per quantizer)."""
        if "rows" not in self._models:
            import constriction

            categorical = constriction.stream.model.Categorical
            self._models["rows"] = [categorical(row, perfect=False) for row in self.weights.astype(np.float64)]
        return self._models["rows"]

    def contexts(self, codes: np.ndarray) -> np.ndarray:
        """Context row of every code (n_q, frames), vectorised over frames (the decoder computes
        the same rows one code at a time from the codes decoded so far)."""
        codes = np.asarray(codes, dtype=np.int64)
        previous = np.zeros_like(codes)
        previous[:, 1:] = codes[:, :-1]
        rows = np.zeros_like(codes)
        for q in range(codes.shape[0]):
            (ja, da), (jb, db) = self.sources[q]
            a = self.clusters[q, 0][(previous if da else codes)[ja]]
            b = self.clusters[q, 1][(previous if db else codes)[jb]]
            rows[q] = self._offsets()[q] + a * self.sizes[q, 1] + b
        return rows

    def _check_codes(self, n_q: int) -> None:
        if not 1 <= n_q <= self.n_q:
            raise TeluCodecError(f"the entropy model covers 1..{self.n_q} quantizers, got {n_q}")

    def encode(self, codes: np.ndarray) -> bytes:
        """Range-code integer codes (n_q, frames), frame-major; returns whole 32-bit words,
        little-endian. Raises TeluCodecError for codes outside [0, K) or too many quantizers."""
        import constriction

        codes = np.asarray(codes, dtype=np.int64)
        self._check_codes(codes.shape[0])
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise TeluCodecError(f"codes must lie in [0, {self.codebook_size}) for this entropy model")
        models = self._constriction_models()
        encoder = constriction.stream.queue.RangeEncoder()
        for code, row in zip(codes.T.reshape(-1).tolist(), self.contexts(codes).T.reshape(-1).tolist()):
            encoder.encode(code, models[row])
        return encoder.get_compressed().astype("<u4").tobytes()

    def min_bits_per_code(self, n_q: int) -> float:
        """The fewest bits any code of the first ``n_q`` quantizers can take."""
        rows = self.weights[: int(self.sizes[:n_q].prod(axis=1).sum())]
        return float(-np.log2((rows.max() + 1) / TOTAL))

    def decode(self, payload: bytes, n_q: int, frames: int) -> np.ndarray:
        """Inverse of ``encode``: int64 codes (n_q, frames) from a payload of 32-bit words.

        Raises EntropyDecodeError when the payload is not whole words, is too short to hold
        ``n_q * frames`` codes, or has data left over after the last code.
        """
        self._check_codes(n_q)
        if len(payload) % 4:
            raise EntropyDecodeError(f"entropy-coded payload of {len(payload)} bytes is not whole 32-bit words")
        # A range coder spends at least the information content of the message, less the bits
        # of its final state; a header promising more codes than the payload can hold is
        # rejected before the loop, so a crafted file cannot make decoding run for hours.
        if n_q * frames * self.min_bits_per_code(n_q) > len(payload) * 8 + 128:
            raise EntropyDecodeError(f"{len(payload)} payload bytes cannot hold {n_q * frames} codes")
        try:
            return self._decode_words(np.frombuffer(payload, dtype="<u4").astype(np.uint32), n_q, frames)
        except (ValueError, RuntimeError, AssertionError) as exc:  # constriction's own checks
            raise EntropyDecodeError(f"entropy-coded payload does not decode ({exc})") from None

    def _decode_words(self, words: np.ndarray, n_q: int, frames: int) -> np.ndarray:
        """The decoding loop: per code, its context from the codes decoded so far, then one symbol."""
        import constriction

        decoder = constriction.stream.queue.RangeDecoder(words)
        models = self._constriction_models()
        offsets = self._offsets().tolist()
        sources = self.sources.tolist()
        clusters = self.clusters.tolist()
        widths = self.sizes[:, 1].tolist()
        codes = np.zeros((frames, n_q), dtype=np.int64)
        previous, current = [0] * n_q, [0] * n_q
        for t in range(frames):
            for q in range(n_q):
                (ja, da), (jb, db) = sources[q]
                a = clusters[q][0][(previous if da else current)[ja]]
                b = clusters[q][1][(previous if db else current)[jb]]
                current[q] = decoder.decode(models[offsets[q] + a * widths[q] + b])
            codes[t] = current
            previous, current = current, [0] * n_q
        if not decoder.maybe_exhausted():
            raise EntropyDecodeError("entropy-coded payload has data left after the last code")
        return codes.T.copy()
