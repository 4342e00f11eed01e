"""A small run of the fuzzer (bench/fuzz.py): mutated .tlc streams and bad audio files give only
clean errors (the full run is ``python -m bench.fuzz``: 10k streams, 1k files)."""
from bench import fuzz


def test_small_fuzz_run_has_only_clean_outcomes(model_path, capsys):
    code = fuzz.main(["--model", str(model_path), "--tlc", "200", "--audio", "36", "--seed", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "200 cases" in out and "36 cases" in out and "decoded" in out and "encoded" in out
