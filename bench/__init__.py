"""Benchmarks of telucodec, each run from the repository root as a module, e.g. ``python -m bench.speed``.

quality (rate-quality against reference speech codecs, through ``reference_codecs``), report (a
listening page), speed (inference speed, with ``speed_reference`` for the DAC and EnCodec rows),
export_speed (onnxruntime against PyTorch), train_speed (training throughput), code_entropy
(what entropy coding could save), phase_oracle (magnitude/phase/quantizer oracles), fuzz (mutated
.tlc files and bad audio: only clean errors), realtime (latency, cost per 20 ms block and quality of
a causal model against Opus) and finetune_eval (a fine-tuned model against its original); ``common``
holds what they share.
"""
