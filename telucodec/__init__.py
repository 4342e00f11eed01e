"""telucodec: a neural speech codec for Telugu.

    import telucodec
    codec = telucodec.load()                 # shipped default model, or load("run_dir" | "x.pt" | "x.safetensors")
    codes = codec.encode(wav, sample_rate)   # int64 (n_q, frames)
    wav16k = codec.decode(codes)             # float32 (samples,)

``Codec``, ``load`` and ``save_pretrained`` are imported on first use (PEP 562), so that the
command line and the ``.tlc`` functions answer without importing torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .bitstream import CodecHeader, FormatError, load_codes, save_codes
from .errors import TeluCodecError

if TYPE_CHECKING:
    from .codec import Codec, load, save_pretrained

__all__ = ["Codec", "CodecHeader", "FormatError", "TeluCodecError", "load", "load_codes", "save_codes",
           "save_pretrained"]
_FROM_CODEC = ("Codec", "load", "save_pretrained")


def __getattr__(name: str) -> object:
    if name in _FROM_CODEC:
        from . import codec

        return getattr(codec, name)
    raise AttributeError(f"module 'telucodec' has no attribute {name!r}")
