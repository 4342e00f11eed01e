"""telucodec: a neural speech codec for Telugu.

    import telucodec
    codec = telucodec.load()                 # shipped default model, or load("run_dir" | "x.pt" | "x.safetensors")
    codes = codec.encode(wav, sample_rate)   # int64 (n_q, frames)
    wav16k = codec.decode(codes)             # float32 (samples,)
"""
from .bitstream import CodecHeader, FormatError, load_codes, save_codes
from .codec import Codec, load, save_pretrained
from .errors import TeluCodecError

__all__ = ["Codec", "CodecHeader", "FormatError", "TeluCodecError", "load", "load_codes", "save_codes",
           "save_pretrained"]
