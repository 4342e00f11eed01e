"""Codec files, the Python API and the file commands, through the CLI entry point."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import telucodec
import telucodec.modelfile
from conftest import trained_tiny, voiced_clip
from telucodec.bitstream import HEADER_SIZE, save_codes
from telucodec.cli import main
from telucodec.config import ModelConfig, dataclass_from_dict
from telucodec.model import TeluCodec


@pytest.fixture
def speech(tmp_path):
    path = tmp_path / "in.flac"
    sf.write(path, np.stack([voiced_clip(10.0, sr=22050), voiced_clip(10.0, seed=1, sr=22050)], 1), 22050)  # stereo
    return path


def cli(*args):
    return main([str(a) for a in args])


def test_encode_decode_and_roundtrip_say_what_they_wrote_unless_quiet(model_path, speech, tmp_path, capsys):
    tlc, wav = tmp_path / "x.tlc", tmp_path / "x.wav"
    assert cli("encode", speech, "-o", tlc, "--n_q", 4, "--model", model_path) == 0
    size = tlc.stat().st_size
    assert capsys.readouterr().out == (f"{speech} -> {tlc}: n_q=4, {size} bytes, {size * 8 / 10 / 1000:.2f} kbps "
                                       "measured (4.8 kbps nominal), 10.00 s\n")
    assert cli("decode", tlc, "-o", wav, "--model", model_path) == 0
    assert capsys.readouterr().out == f"{tlc} -> {wav}: 10.00 s, 16000 Hz mono WAV PCM_16\n"
    for command in (["encode", speech, "-o", tlc], ["decode", tlc, "-o", wav], ["roundtrip", speech, "-o", wav]):
        assert cli(*command, "--force", "--model", model_path, "-q") == 0
    assert capsys.readouterr().out == ""


def test_encode_info_decode_roundtrip(model_path, speech, tmp_path, capsys):
    tlc, wav = tmp_path / "x.tlc", tmp_path / "x.wav"
    assert cli("encode", speech, "-o", tlc, "--n_q", 4, "--model", model_path) == 0
    assert cli("info", tlc) == 0
    info = capsys.readouterr().out
    assert "n_q:         4 x 6 bits" in info and "duration:    10.000 s" in info
    # 200 frames/s x 4 quantizers x 6 bits = 4.8 kbps nominal; the file is within a few percent of it
    kbps = tlc.stat().st_size * 8 / 10.0 / 1000
    assert abs(kbps - 4.8) / 4.8 < 0.02
    assert tlc.stat().st_size == HEADER_SIZE + 4 + 2000 * 4 * 6 // 8
    assert cli("decode", tlc, "-o", wav, "--model", model_path) == 0
    audio, sr = sf.read(wav)
    assert sr == 16000 and audio.ndim == 1 and len(audio) == 160000
    # the file decodes to what the API produces in memory
    codec = telucodec.load(model_path)
    expected = codec.decompress(tlc.read_bytes())
    assert np.abs(audio - expected).max() <= 1 / 32767 + 1e-6


def test_kbps_picks_quantizers_and_says_so(model_path, speech, tmp_path, capsys):
    assert cli("roundtrip", speech, "-o", tmp_path / "r.wav", "--kbps", 2.5, "--model", model_path) == 0
    captured = capsys.readouterr()
    assert "using n_q=2 (2.4 kbps)" in captured.err
    assert "n_q=2" in captured.out and "kbps measured" in captured.out


@pytest.mark.parametrize("make_input, message", [
    (lambda p: p / "missing.wav", "no such file"),
    (lambda p: (p / "text.wav").write_text("not audio") and p / "text.wav", "cannot read audio"),
    (lambda p: sf.write(p / "nan.wav", np.full(800, np.nan, np.float32), 16000, subtype="FLOAT") or p / "nan.wav",
     "NaN"),
    (lambda p: sf.write(p / "empty.wav", np.zeros(0, np.float32), 16000) or p / "empty.wav", "empty"),
])
def test_bad_audio_is_one_line_exit_2(model_path, tmp_path, capsys, make_input, message):
    src = make_input(tmp_path)
    out = tmp_path / "out.tlc"
    assert cli("encode", src, "-o", out, "--model", model_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("telucodec: error:") and message in err[0] and str(src) in err[0]
    assert not out.exists() and list(tmp_path.glob(".*.tmp")) == []


def test_bad_tlc_files_and_wrong_model(model_path, speech, tmp_path, capsys):
    good = tmp_path / "good.tlc"
    assert cli("encode", speech, "-o", good, "--n_q", 2, "--model", model_path) == 0
    data = good.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    version = bytearray(data)
    version[4] = 9
    cases = {"truncated.tlc": data[: len(data) // 2], "magic.tlc": b"RIFF" + data[4:],
             "crc.tlc": bytes(flipped), "version.tlc": bytes(version)}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        assert cli("decode", tmp_path / name, "-o", tmp_path / f"{name}.wav", "--model", model_path) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and name in err[0], err
        assert not (tmp_path / f"{name}.wav").exists()
    other = tmp_path / "other.safetensors"
    telucodec.save_pretrained(trained_tiny(causal=True), other, half=False)
    assert cli("decode", good, "-o", tmp_path / "w.wav", "--model", other) == 2
    assert "model" in capsys.readouterr().err


def test_existing_output_is_never_overwritten_without_force(model_path, speech, tmp_path, capsys):
    out = tmp_path / "keep.tlc"
    out.write_bytes(b"user data")
    assert cli("encode", speech, "-o", out, "--model", model_path) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"user data"
    assert cli("encode", speech, "-o", out, "--model", model_path, "--force") == 0
    assert out.read_bytes()[:4] == b"TLUC"


def test_folder_batch_continues_past_a_bad_file(model_path, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for i in range(3):
        sf.write(src / "sub" / f"c{i}.wav", voiced_clip(1.0, seed=i), 16000)
    (src / "broken.wav").write_text("x")
    assert cli("encode", src, "-o", tmp_path / "codes", "--model", model_path) == 2
    assert "broken.wav" in capsys.readouterr().err
    made = sorted(p.name for p in (tmp_path / "codes").rglob("*.tlc"))
    assert made == ["c0.tlc", "c1.tlc", "c2.tlc"]
    assert cli("decode", tmp_path / "codes", "-o", tmp_path / "wavs", "--model", model_path) == 0
    assert len(list((tmp_path / "wavs").rglob("*.wav"))) == 3


def test_tokenize_writes_codes_and_manifest_and_skips_done(model_path, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        sf.write(src / f"c{i}.wav", voiced_clip(0.5 + i * 0.25, seed=i), 16000)
    args = [sys.executable, "-m", "telucodec.cli", "tokenize", src, "-o", tmp_path / "tok", "--n_q", 3,
            "--model", model_path, "--jobs", 2]
    first = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    manifest = [json.loads(line) for line in (tmp_path / "tok" / "manifest.jsonl").read_text().splitlines()]
    assert [m["path"] for m in manifest] == ["c0.wav", "c1.wav", "c2.wav"]
    codes = np.load(tmp_path / "tok" / "c2.npy")
    assert codes.dtype == np.int16 and codes.shape == (3, 200) and manifest[2]["frames"] == 200
    assert manifest[2]["seconds"] == 1.0
    again = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    assert again.returncode == 0 and "3 file(s) already done, 0 to tokenize" in again.stderr


def test_chunked_processing_matches_whole_file():
    model = trained_tiny()
    clip = voiced_clip(6.0)
    whole = telucodec.Codec(model, chunk_seconds=100)
    chunked = telucodec.Codec(model, chunk_seconds=1.0, context_seconds=0.5)
    codes = chunked.encode(clip, 16000)
    assert (codes == whole.encode(clip, 16000)).mean() > 0.999
    a, b = chunked.decode(codes), whole.decode(codes)
    assert np.abs(a - b).max() < 1e-4


def test_causal_model_streams_identically():
    model = trained_tiny(causal=True)
    clip = voiced_clip(3.0)
    whole = telucodec.Codec(model, chunk_seconds=100)
    chunked = telucodec.Codec(model, chunk_seconds=0.25, context_seconds=0.5)
    codes = chunked.encode(clip, 16000)
    assert np.array_equal(codes, whole.encode(clip, 16000))
    assert np.abs(chunked.decode(codes) - whole.decode(codes)).max() < 1e-5


def test_batch_api_matches_single_calls(model_path):
    codec = telucodec.load(model_path)
    clips = [voiced_clip(1.0), voiced_clip(0.6, seed=2)]
    batch = codec.encode_batch(clips, 16000, n_q=2)
    assert [c.shape for c in batch] == [(2, 200), (2, 120)]
    assert np.array_equal(batch[0], codec.encode(clips[0], 16000, n_q=2))
    audio = codec.decode_batch(batch, [16000, 9600])
    assert [len(a) for a in audio] == [16000, 9600]
    assert np.abs(audio[0] - codec.decode(batch[0])).max() < 1e-5


def test_no_model_gives_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(telucodec.modelfile, "DEFAULT_MODEL", tmp_path / "none.safetensors")
    sf.write(tmp_path / "a.wav", voiced_clip(0.5), 16000)
    assert cli("encode", tmp_path / "a.wav", "-o", tmp_path / "a.tlc") == 2
    assert "pass --model" in capsys.readouterr().err


def test_fit_entropy_then_entropy_coded_files(model_path, speech, clip_dir, tmp_path, capsys):
    """fit-entropy keeps the model id; its files are version 2, smaller, decode to the same audio
    as version-1 files of the same codes; version-1 files still decode; a model without tables
    refuses version-2 files in one line."""
    fitted = tmp_path / "fitted.safetensors"
    assert cli("fit-entropy", clip_dir, speech.parent, "-o", fitted, "--model", model_path) == 0
    codec, plain_codec = telucodec.load(fitted), telucodec.load(model_path)
    assert codec.entropy is not None and codec.model_id == plain_codec.model_id
    v2, v1 = tmp_path / "v2.tlc", tmp_path / "v1.tlc"
    assert cli("encode", speech, "-o", v2, "--n_q", 4, "--model", fitted) == 0
    assert cli("encode", speech, "-o", v1, "--n_q", 4, "--model", fitted, "--no-entropy-coding") == 0
    assert v2.read_bytes()[4] == 2 and v1.read_bytes()[4] == 1
    assert v2.stat().st_size < v1.stat().st_size
    capsys.readouterr()
    assert cli("info", v2) == 0
    info = capsys.readouterr().out
    assert "version 2 (entropy-coded" in info and "kbps measured, 4.8 kbps nominal" in info
    for name in ("v2", "v1"):
        assert cli("decode", tmp_path / f"{name}.tlc", "-o", tmp_path / f"{name}.wav", "--model", fitted) == 0
    np.testing.assert_array_equal(sf.read(tmp_path / "v2.wav")[0], sf.read(tmp_path / "v1.wav")[0])
    assert cli("decode", v2, "-o", tmp_path / "x.wav", "--model", model_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no entropy model" in err[0] and not (tmp_path / "x.wav").exists()
    data = v2.read_bytes()
    for name, bad in (("flipped", data[:50] + bytes([data[50] ^ 4]) + data[51:]), ("cut", data[:-5])):
        (tmp_path / f"{name}.tlc").write_bytes(bad)
        assert cli("decode", tmp_path / f"{name}.tlc", "-o", tmp_path / f"{name}.wav", "--model", fitted) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{name}.tlc" in err[0] and not (tmp_path / f"{name}.wav").exists()


# ----------------------------------------------------------------------------- every input (issue 14)

def _tiny_frame_codec() -> telucodec.Codec:
    """A tiny ``frame`` model (hop 80): its reflect-padded STFT needs more than 160 samples."""
    cfg = dataclass_from_dict(ModelConfig, {"architecture": "frame", "strides": [80], "latent_dim": 16, "frame_dim": 16,
                                            "frame_blocks": 1, "quantizer": {"n_q": 4, "codebook_size": 64,
                                                                             "kmeans_iters": 2}})
    model = TeluCodec(cfg)
    model(torch.from_numpy(voiced_clip(1.0))[None, None])
    return telucodec.Codec(model.eval())


def test_clips_from_one_sample_code_back_to_their_own_length():
    codec = _tiny_frame_codec()
    clips = [voiced_clip(n / 16000, seed=n) for n in (1, 100, 160, 200, 320)]
    for clip in clips:
        codes = codec.encode(clip, 16000)
        assert codes.shape == (4, -(-len(clip) // 80))
        assert len(codec.decode(codes, len(clip))) == len(codec.decompress(codec.compress(clip, 16000))) == len(clip)
    assert [c.shape[1] for c in codec.encode_batch(clips, 16000)] == [1, 2, 2, 3, 4]


def test_a_20_ms_file_goes_through_every_file_command(tmp_path):
    """The shipped model on a 200-sample file, shorter than its 320-sample STFT window: encode,
    decode, roundtrip, tokenize (one frame per started hop)."""
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "short.wav", voiced_clip(200 / 16000), 16000)
    src = tmp_path / "in" / "short.wav"
    assert cli("encode", src, "-o", tmp_path / "s.tlc") == 0
    assert cli("decode", tmp_path / "s.tlc", "-o", tmp_path / "s.wav") == 0
    assert cli("roundtrip", src, "-o", tmp_path / "r.wav") == 0
    assert sf.info(tmp_path / "s.wav").frames == sf.info(tmp_path / "r.wav").frames == 200
    assert cli("tokenize", tmp_path / "in", "-o", tmp_path / "tok") == 0
    assert np.load(tmp_path / "tok" / "short.npy").shape[1] == -(-200 // telucodec.load().hop_length)


def test_integer_pcm_arrays_are_scaled_like_soundfile(model_path):
    codec = telucodec.load(model_path)
    clip = voiced_clip(0.5)
    pcm16 = np.round(clip * 32767).astype(np.int16)
    expected = codec.encode(pcm16 / 32768, 16000)
    assert np.array_equal(codec.encode(pcm16, 16000), expected)
    assert np.array_equal(codec.encode(pcm16.astype(np.int32) << 16, 16000), expected)
    assert np.abs(codec.prepare((pcm16 // 256 + 128).astype(np.uint8), 16000) - pcm16 / 32768).max() < 1 / 128
    with pytest.raises(telucodec.TeluCodecError, match="dtype bool"):
        codec.encode(clip > 0, 16000)


def test_channels_first_arrays_and_the_16k_length_for_other_rates(model_path, tmp_path):
    codec = telucodec.load(model_path)
    stereo = np.stack([voiced_clip(1.0, sr=44100), voiced_clip(1.0, seed=1, sr=44100)], 1)   # (44100, 2)
    codes = codec.encode(stereo, 44100, n_q=2)
    assert np.array_equal(codec.encode(stereo.T, 44100, n_q=2), codes)          # (2, 44100): the same audio
    assert np.array_equal(codec.encode(torch.from_numpy(stereo.T), 44100, n_q=2), codes)
    n = len(codec.prepare(stereo, 44100))
    assert n == 16000 and len(codec.decode(codes, n)) == n
    save_codes(tmp_path / "a.tlc", codes, codec.header(2, n))
    assert len(codec.decompress((tmp_path / "a.tlc").read_bytes())) == n
    for ambiguous in (np.zeros((4, 4)), np.zeros((2, 8))):
        with pytest.raises(telucodec.TeluCodecError, match="cannot tell samples from channels"):
            codec.encode(ambiguous + 0.1, 16000)
    assert codec.encode_batch([], 16000) == [] and codec.decode_batch([]) == []


def test_batch_decodes_and_encodes_equal_single_ones(model_path):
    codec = telucodec.load(model_path)
    clips = [voiced_clip(1.0), voiced_clip(0.6, seed=2), voiced_clip(1.0, seed=3), voiced_clip(0.33, seed=4)]
    batch = codec.encode_batch(clips, 16000, n_q=3)
    for clip, codes in zip(clips, batch):
        assert np.array_equal(codes, codec.encode(clip, 16000, n_q=3))
    lengths = [len(c) for c in clips]
    for codes, n, audio in zip(batch, lengths, codec.decode_batch(batch, lengths)):
        np.testing.assert_allclose(audio, codec.decode(codes, n), rtol=0, atol=1e-6)


def _copy(array):
    return (array.numpy() if isinstance(array, torch.Tensor) else array).copy()


def test_codes_and_audio_of_any_strides_are_taken_as_they_are(model_path):
    codec = telucodec.load(model_path)
    wav = voiced_clip(1.0)
    codes = codec.encode(wav, 16000)
    for strided in (np.flip(codes, 1), codes[:, ::2], np.asfortranarray(codes), torch.from_numpy(codes.T.copy()).T):
        plain = _copy(strided)
        assert np.array_equal(codec.decode(strided), codec.decode(plain))
        assert np.array_equal(np.concatenate(list(codec.decode_stream(strided))), codec.decode(plain))
        assert np.array_equal(codec.decode_batch([strided])[0], codec.decode(plain))
    stereo = np.stack([wav, wav[::-1]], 1)
    for strided in (np.flip(wav), wav[::2], stereo.T[:, ::-1], torch.from_numpy(stereo).T):
        plain = _copy(strided)
        assert np.array_equal(codec.encode(strided, 16000), codec.encode(plain, 16000))
        assert codec.compress(strided, 16000) == codec.compress(plain, 16000)


@pytest.mark.parametrize("model", [None, "tiny"])
def test_a_float64_default_dtype_does_not_change_what_the_codec_does(model, model_path):
    wav = voiced_clip(1.0)
    expected = telucodec.load(model_path if model else None)
    torch.set_default_dtype(torch.float64)
    try:
        codec = telucodec.load(model_path if model else None)
        codes = codec.encode(wav, 16000, n_q=2)
        audio = codec.decompress(codec.compress(wav, 16000))
    finally:
        torch.set_default_dtype(torch.float32)
    assert codec.model_id == expected.model_id
    assert np.array_equal(codes, expected.encode(wav, 16000, n_q=2))
    assert audio.dtype == np.float32 and np.array_equal(audio, expected.decompress(expected.compress(wav, 16000)))


def _with_metadata(source, target, change):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(source))
    with safe_open(str(source), "pt") as f:
        metadata = f.metadata()
    config = json.loads(metadata["config"])
    change(tensors, config)
    save_file(tensors, str(target), metadata={**metadata, "config": json.dumps(config)})
    return target


@pytest.mark.parametrize("change, message", [
    (lambda t, c: c["quantizer"].update(codebook_size=32), "quantizer.codebooks.0.cluster_size ((64,), the model has"),
    (lambda t, c: t.pop("decoder.net.0.conv.bias"), "decoder.net.0.conv.bias (missing)"),
    (lambda t, c: t.update({"extra.weight": torch.zeros(2)}), "extra.weight (not in the model)"),
    (lambda t, c: c.update(channels="many"), "the model config in its metadata is not valid"),
])
def test_a_model_file_whose_config_does_not_match_its_tensors_is_one_line(change, message, model_path, speech,
                                                                          tmp_path, capsys):
    bad = _with_metadata(model_path, tmp_path / "bad.safetensors", change)
    assert cli("encode", speech, "-o", tmp_path / "x.tlc", "--model", bad) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"telucodec: error: {bad}: ") and message in err and len(err.splitlines()) == 1
    state = {"config": {"model": {**json.loads(_read_config(model_path)), "latent_dim": 8}},
             "model": telucodec.load(model_path).model.state_dict()}
    torch.save(state, tmp_path / "bad.pt")
    assert cli("encode", speech, "-o", tmp_path / "x.tlc", "--model", tmp_path / "bad.pt") == 2
    assert "bad.pt: its tensors do not match the model its config describes" in capsys.readouterr().err


def _read_config(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata()["config"]


def test_kbps_above_the_highest_rate_says_so_and_below_the_lowest_is_refused(model_path, speech, tmp_path, capsys):
    assert cli("roundtrip", speech, "-o", tmp_path / "r.wav", "--kbps", 100, "--model", model_path) == 0
    err = capsys.readouterr().err
    assert "--kbps 100 is above this model's highest rate; using n_q=4 (4.8 kbps)" in err and "multiple" not in err
    for command in (["roundtrip", speech, "-o", tmp_path / "s.wav"], ["encode", speech, "-o", tmp_path / "s.tlc"],
                    ["tokenize", speech.parent, "-o", tmp_path / "tokens"]):
        assert cli(*command, "--kbps", 1, "--model", model_path) == 2
        assert capsys.readouterr().err == ("telucodec: error: --kbps 1 is below this model's lowest rate, "
                                           "1.2 kbps (n_q=1)\n")
        assert not command[-1].exists()


def test_the_api_takes_kbps_as_the_cli_does(model_path):
    codec = telucodec.load(model_path)
    wav = voiced_clip(1.0)
    assert codec.encode(wav, 16000, kbps=2.5).shape[0] == 2
    assert np.array_equal(codec.encode(wav, 16000, kbps=2.5), codec.encode(wav, 16000, n_q=2))
    assert codec.compress(wav, 16000, kbps=3.6) == codec.compress(wav, 16000, n_q=3)
    assert np.array_equal(codec.encode_batch([wav], 16000, kbps=100)[0], codec.encode(wav, 16000))
    assert np.array_equal(codec.encode_stream([wav[:5000], wav[5000:]], kbps=1.2)[0], codec.encode(wav, 16000, n_q=1))
    with pytest.raises(telucodec.TeluCodecError, match="n_q or kbps, not both"):
        codec.encode(wav, 16000, n_q=2, kbps=2.4)
    with pytest.raises(telucodec.TeluCodecError, match="below this model's lowest rate"):
        codec.compress(wav, 16000, kbps=1)


@pytest.mark.parametrize("suffix, fmt", [(".mp3", "MP3"), (".flac", "FLAC"), (".ogg", "OGG"), (".wav", "WAV")])
def test_decode_and_roundtrip_write_the_format_the_extension_names(suffix, fmt, model_path, speech, tmp_path, capsys):
    tlc = tmp_path / "x.tlc"
    assert cli("encode", speech, "-o", tlc, "--model", model_path, "-q") == 0
    for command in (["decode", tlc], ["roundtrip", speech]):
        out = tmp_path / f"{command[0]}{suffix}"
        assert cli(*command, "-o", out, "--model", model_path, "-q") == 0, capsys.readouterr().err
        info = sf.info(str(out))
        assert (info.format, info.samplerate, info.channels) == (fmt, 16000, 1)
        assert abs(info.duration - 10.0) < 0.1


def test_an_extension_soundfile_cannot_write_is_refused_before_any_work(model_path, speech, tmp_path, capsys):
    tlc = tmp_path / "x.tlc"
    assert cli("encode", speech, "-o", tlc, "--model", model_path, "-q") == 0
    for command in (["decode", tlc], ["roundtrip", speech]):
        out = tmp_path / "out.xyz"
        assert cli(*command, "-o", out, "--model", model_path) == 2
        assert capsys.readouterr().err == (f"telucodec: error: {out}: cannot write audio as '.xyz': not a format "
                                           "soundfile writes (use .wav, .flac, .ogg, .mp3, ...)\n")
        assert list(tmp_path.glob("*out*")) == []
