"""The DAC and EnCodec rows of ``bench.speed``: their architectures with random weights (no
weights can be downloaded here), timed on the same input in a separate Python.

They run in ``--ref-python`` (default /tmp/refcodecs/bin/python when it exists) because their
packages depend on torchaudio, which would replace our torch:

    python -m venv /tmp/refcodecs --system-site-packages
    /tmp/refcodecs/bin/pip install --no-deps descript-audio-codec encodec einops argbind docstring-parser

torchaudio and audiotools (dac's audio toolkit) are replaced by empty stand-ins in that process:
both are imported by the packages but not used to build or run the models.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import best_time, count_macs, run_worker, serve_worker

CHUNK_SECONDS = 10.0          # telucodec's chunk length; also these archs' (plain) chunks and the MAC pass
WARMUP_SECONDS = 12.0         # one chunk plus its context: every kernel shape of the timed runs
DEFAULT_REF_PYTHON = Path("/tmp/refcodecs/bin/python")
REF_SETUP = ("python -m venv /tmp/refcodecs --system-site-packages && /tmp/refcodecs/bin/pip install --no-deps "
             "descript-audio-codec encodec einops argbind docstring-parser")
# DAC's 16 kHz model (conf/final/16khz.yml in descript-audio-codec): 50 Hz x 12 codebooks x 10 bits = 6 kbps
DAC_16KHZ = {"encoder_dim": 64, "encoder_rates": [2, 4, 5, 8], "decoder_dim": 1536, "decoder_rates": [8, 5, 4, 2],
             "n_codebooks": 12, "codebook_size": 1024, "codebook_dim": 8, "sample_rate": 16000}
REFERENCE_ARCHS = ("dac-16khz", "encodec-24khz")


def default_ref_python() -> Path:
    """The reference codecs' Python: /tmp/refcodecs when it has been set up, else this one."""
    return DEFAULT_REF_PYTHON if DEFAULT_REF_PYTHON.exists() else Path(sys.executable)


def reference_rows(ref_python: Path, threads: list[int], audio: Path, repeats: int, warnings: list[str]) -> list[dict]:
    """DAC and EnCodec rows timed in ``ref_python``; a warning instead where they cannot be built."""
    if not ref_python.is_file():
        warnings.append(f"--ref-python {ref_python} not found: no DAC or EnCodec rows; to time them: {REF_SETUP}")
        return []
    rows = []
    for arch in REFERENCE_ARCHS:
        for count in threads:
            result = run_worker("bench.speed_reference", {"arch": arch, "audio": str(audio), "threads": count, "repeats": repeats},
                                python=str(ref_python))
            reason = result.get("skipped") or result.get("error")
            if reason:
                warnings.append(f"reference architecture skipped ({reason}); to time it: {REF_SETUP}")
                break
            rows.append({"codec": f"{result['label']} (random weights)", "threads": count, **result})
    return rows


def _stub_missing_modules() -> list[str]:
    """Install empty stand-ins for torchaudio and audiotools where they are not installed.

    encodec imports torchaudio and dac imports audiotools (which needs torchaudio) when the
    packages load, but neither is used to build or run the models, and installing torchaudio
    would replace our torch. Returns the names stubbed.
    """
    import importlib.util
    import types

    from torch import nn

    stubbed = []
    if importlib.util.find_spec("torchaudio") is None:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
        stubbed.append("torchaudio")
    if importlib.util.find_spec("audiotools") is None:
        class Unused:
            """An audiotools class dac names at import time but never uses to build or run a model."""

        class BaseModel(nn.Module):
            """audiotools.ml.BaseModel without its save/load helpers; dac extends these two lists."""
            INTERN: list[str] = []
            EXTERN: list[str] = []

        root, ml, core = (types.ModuleType(n) for n in ("audiotools", "audiotools.ml", "audiotools.core"))
        ml.BaseModel, ml.Accelerator = BaseModel, Unused
        core.util = types.ModuleType("audiotools.core.util")
        root.ml, root.core, root.AudioSignal, root.STFTParams = ml, core, Unused, Unused
        sys.modules.update({"audiotools": root, "audiotools.ml": ml, "audiotools.core": core,
                            "audiotools.core.util": core.util})
        stubbed.append("audiotools")
    return stubbed


def _build_reference(arch: str):
    """(label, sample rate, kbps, model, encode, decode) for a reference architecture, random weights."""
    if arch == "dac-16khz":
        import dac

        model = dac.model.DAC(**DAC_16KHZ).eval()
        rate = DAC_16KHZ["sample_rate"]
        return ("DAC 16 kHz", rate, 6.0, model,
                lambda x: model.encode(model.preprocess(x, rate))[1],
                lambda codes: model.decode(model.quantizer.from_codes(codes)[0]))
    import encodec

    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False).eval()
    model.set_target_bandwidth(6.0)   # 8 codebooks x 10 bits x 75 Hz
    return "EnCodec 24 kHz", model.sample_rate, 6.0, model, model.encode, model.decode


def reference_worker(spec: dict) -> dict:
    """Time a reference architecture on the audio (resampled to its rate) in 10 s chunks."""
    try:
        import numpy as np
        import soundfile as sf
        import soxr
        import torch

        stubbed = _stub_missing_modules()
        label, rate, kbps, model, encode, decode = _build_reference(spec["arch"])
    except Exception as exc:   # any import or construction failure becomes a skipped row
        return {"skipped": f"{spec['arch']}: {type(exc).__name__}: {exc}"}
    torch.set_num_threads(spec["threads"])
    wav, sr = sf.read(spec["audio"], dtype="float32")
    seconds = len(wav) / sr
    audio = torch.from_numpy(soxr.resample(wav, sr, rate).astype(np.float32))[None, None]
    chunks = torch.split(audio, int(CHUNK_SECONDS * rate), dim=-1)
    with torch.inference_mode():
        decode(encode(audio[..., : int(WARMUP_SECONDS * rate)]))
        enc_s, codes = best_time(lambda: [encode(c) for c in chunks], spec["repeats"])
        dec_s, _ = best_time(lambda: [decode(c) for c in codes], spec["repeats"])
        chunk_seconds = chunks[0].shape[-1] / rate
        enc_macs = count_macs(model, encode, chunks[0])
        dec_macs = count_macs(model, decode, codes[0])
    return {
        "label": label, "sample_rate": rate, "kbps": kbps, "stubbed": stubbed,
        "enc_rtf": seconds / enc_s, "dec_rtf": seconds / dec_s,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "enc_gmacs": enc_macs / chunk_seconds / 1e9, "dec_gmacs": dec_macs / chunk_seconds / 1e9,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="internal: one reference measurement for bench.speed")
    parser.add_argument("--worker", required=True, help="the measurement's JSON spec")
    serve_worker(reference_worker, parser.parse_args().worker)
