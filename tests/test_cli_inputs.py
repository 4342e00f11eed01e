"""The input side of the commands: a bad file in a batch is reported on its own line, skipped and
counted; inputs that share a name get distinct outputs; clipping is announced; a .tlc header at
odds with the model is refused before any decoding; numbers that are not numbers are bad flags."""
import json

import numpy as np
import pytest
import soundfile as sf

import telucodec
from conftest import voiced_clip
from telucodec.bitstream import CodecHeader, FormatError, decode_bytes, encode_bytes
from telucodec.cli import main


def _fail_on_short_clips(monkeypatch):
    """Encoding a clip under 0.5 s raises a non-TeluCodecError, as a model bug or an odd input would
    (short clips themselves are coded fine now: test_codec_cli)."""
    encode_stream = telucodec.codec.Codec.encode_stream

    def fragile(self, blocks, n_q=None):
        blocks = list(blocks)
        if sum(len(b) for b in blocks) < 8000:
            raise RuntimeError("Padding size should be less than the corresponding input dimension")
        return encode_stream(self, blocks, n_q)
    monkeypatch.setattr(telucodec.codec.Codec, "encode_stream", fragile)


@pytest.fixture
def folder_with_a_bad_file(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        sf.write(src / f"c{i}.wav", voiced_clip(1.0, seed=i), 16000)
    sf.write(src / "b_short.wav", voiced_clip(0.1), 16000)
    _fail_on_short_clips(monkeypatch)
    return src


def _error_lines(err: str) -> list[str]:
    """Lines of stderr (progress-bar redraws split off) that mention an error."""
    lines = [part for line in err.splitlines() for part in line.split("\r")]
    return [line for line in lines if "error" in line or "skipped" in line]


@pytest.mark.parametrize("command", ["encode", "tokenize"])
def test_a_bad_file_in_a_folder_is_reported_skipped_and_counted(command, folder_with_a_bad_file, tmp_path, model_path,
                                                                capsys):
    out = tmp_path / "out"
    args = [command, str(folder_with_a_bad_file), "-o", str(out), "--model", str(model_path)]
    # a re-run goes through the same way (tokenize resumes: only the bad file is left to do)
    for again, total in ((False, 4), (True, 1 if command == "tokenize" else 4)):
        assert main(args + (["--force"] if again and command == "encode" else [])) == 2
        lines = _error_lines(capsys.readouterr().err)
        assert len(lines) == 2, lines
        assert lines[0].startswith("telucodec: error: ") and "b_short.wav: unexpected RuntimeError" in lines[0]
        assert lines[1] == f"telucodec: 1 of {total} files skipped (errors above)"
    suffix = ".tlc" if command == "encode" else ".npy"
    assert sorted(p.name for p in out.glob(f"*{suffix}")) == [f"c{i}{suffix}" for i in range(3)]


def test_same_stem_inputs_never_share_an_output(tmp_path, model_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "speech.wav", voiced_clip(1.0, f0=120), 16000)
    sf.write(src / "speech.flac", voiced_clip(1.5, f0=200, seed=3), 16000)
    sf.write(src / "sub" / "speech.wav", voiced_clip(0.5, seed=4), 16000)
    m = ["--model", str(model_path)]
    assert main(["encode", str(src), "-o", str(tmp_path / "codes"), *m]) == 0
    made = sorted(str(p.relative_to(tmp_path / "codes")) for p in (tmp_path / "codes").rglob("*.tlc"))
    assert made == ["speech.flac.tlc", "speech.wav.tlc", "sub/speech.tlc"]
    codec = telucodec.load(model_path)
    lengths = [len(codec.decompress((tmp_path / "codes" / name).read_bytes())) for name in made]
    assert lengths == [24000, 16000, 8000]
    assert main(["tokenize", str(src), "-o", str(tmp_path / "tok"), "--n_q", "2", *m]) == 0
    manifest = [json.loads(line) for line in (tmp_path / "tok" / "manifest.jsonl").read_text().splitlines()]
    assert sorted(e["codes"] for e in manifest) == ["speech.flac.npy", "speech.wav.npy", "sub/speech.npy"]
    assert [np.load(tmp_path / "tok" / e["codes"]).shape[1] for e in manifest] == [e["frames"] for e in manifest]
    # the same file name from two folders given on the command line: refused before any work
    capsys.readouterr()
    args = ["encode", str(src / "speech.wav"), str(src / "sub" / "speech.wav"), "-o", str(tmp_path / "two"), *m]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{src / 'speech.wav'} and {src / 'sub' / 'speech.wav'} would both be written to" in err
    assert not (tmp_path / "two").exists()


def test_clipping_is_announced_once_naming_the_file(tmp_path, model_path, capsys):
    loud = tmp_path / "loud.wav"
    sf.write(loud, 1.8 * voiced_clip(2.0) / np.abs(voiced_clip(2.0)).max(), 16000, subtype="FLOAT")
    assert main(["encode", str(loud), "-o", str(tmp_path / "loud.tlc"), "--model", str(model_path)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "clipped" in line]
    assert len(warnings) == 1 and str(loud) in warnings[0] and "peak at 1.8" in warnings[0]


def _tampered(codec, **fields) -> bytes:
    """A well-formed .tlc (valid CRC, payload sized for its header) whose header says ``fields``."""
    header = codec.header(2, 48000)
    header = CodecHeader(**{**header.__dict__, **fields})
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2 ** min(header.codebook_bits, codec.codebook_bits), (header.n_q, header.num_frames))
    return encode_bytes(codes, header)


@pytest.mark.parametrize("fields, message", [
    ({"hop_length": 320}, "hop 320"), ({"hop_length": 48000}, "hop 48000"), ({"hop_length": 2**32 - 1}, "hop"),
    ({"hop_length": 1}, "hop 1"),                     # the decompression bomb: 48000 frames for 3 s
    ({"sample_rate": 1}, "sample rate 1 Hz"), ({"sample_rate": 44100}, "sample rate 44100"),
    ({"codebook_bits": 1}, "codebook bits 1"), ({"codebook_bits": 16}, "codebook bits 16"),
    ({"n_q": 5}, "n_q 5"),
])
def test_header_fields_are_checked_against_the_model(fields, message, tmp_path, model_path, capsys):
    codec = telucodec.load(model_path)
    data = _tampered(codec, **fields)
    with pytest.raises(FormatError, match=message):
        codec.decompress(data)
    path = tmp_path / "x.tlc"
    path.write_bytes(data)
    assert main(["decode", str(path), "-o", str(tmp_path / "x.wav"), "--model", str(model_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and message in err[0] and not (tmp_path / "x.wav").exists()
    assert main(["info", str(path), "--model", str(model_path)]) == 2
    captured = capsys.readouterr()
    assert "duration" not in captured.out and message in captured.err


def test_header_check_comes_before_decoding_the_payload(model_path, monkeypatch):
    codec = telucodec.load(model_path)
    data = _tampered(codec, hop_length=1)
    monkeypatch.setattr(telucodec.bitstream, "unpack_codes", lambda *a: pytest.fail("payload decoded"))
    with pytest.raises(FormatError, match="hop 1"):
        decode_bytes(data, model=codec.model_header)


def test_info_of_another_models_file_checks_plausibility(tmp_path, model_path, capsys):
    codec = telucodec.load(model_path)
    path = tmp_path / "x.tlc"
    path.write_bytes(_tampered(codec, model_id="0123456789abcdef", sample_rate=1))
    assert main(["info", str(path), "--model", str(model_path)]) == 2
    captured = capsys.readouterr()
    assert "another model" in captured.out and "duration" not in captured.out and "implausible" in captured.err
    path.write_bytes(_tampered(codec, model_id="0123456789abcdef"))
    assert main(["info", str(path), "--model", str(model_path)]) == 2     # as the README says: a mismatch
    captured = capsys.readouterr()
    assert "model id:    0123456789abcdef (another model" in captured.out and "duration" not in captured.out
    assert captured.err == (f"telucodec: error: {path}: made with model 0123456789abcdef, not with {model_path} "
                            f"({codec.model_id}); it decodes only with its own model\n")
    assert main(["info", str(path)]) == 0      # without --model: checked for plausibility only
    assert "duration:    3.000 s" in capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["roundtrip", "in.wav", "-o", "o.wav", "--kbps", "nan"], ["roundtrip", "in.wav", "-o", "o.wav", "--kbps", "inf"],
    ["encode", "in.wav", "-o", "o.tlc", "--kbps", "1e400"], ["tokenize", "in", "-o", "out", "--kbps=-inf"],
    ["train", "--data_dir", "d", "--checkpoint_dir", "c", "--segment_seconds", "inf"],
    ["train", "--data_dir", "d", "--checkpoint_dir", "c", "--learning_rate", "nan"],
    ["export", "-o", "x", "--n_q", "1e400"], ["tokenize", "in", "-o", "out", "--jobs", "9" * 30],
    ["corpus", "out", "--num", "nan"],
])
def test_numbers_that_are_not_numbers_are_one_line_exit_2(args, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and err[0].startswith("telucodec: error: argument"), err
