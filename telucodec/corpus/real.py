"""Where real recordings come from: Debian's klettres-data and codec2-examples, and a folder of
recordings listed in a ``files.tsv`` (``--real-dir``)."""
from __future__ import annotations

import csv
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import TeluCodecError

KLETTRES_DIR = "/usr/share/klettres"
CODEC2_DIR = "/usr/share/codec2"
KLETTRES_LICENCE = "GPL-2+ (Debian klettres-data)"
CODEC2_LICENCE = "LGPL-2.1 (Debian codec2-examples)"

# codec2-examples: the real speech in it, without duplicates (hts1*.raw, hts2*.raw are cut from
# hts.raw, ve9qrp_10s.raw from ve9qrp.raw, wav/all.wav concatenates others), without the
# codec-processed f2400/m2400 and without the modem and sine test signals.
CODEC2_SPEECH = (
    # (path under /usr/share/codec2, sample rate for raw s16le files or None for wav)
    ("raw/hts.raw", 8000), ("raw/big_dog.raw", 8000), ("raw/cross.raw", 8000),
    ("raw/forig.raw", 8000), ("raw/morig.raw", 8000), ("raw/mmt1.raw", 8000),
    ("raw/kristoff.raw", 8000), ("raw/cq_ref.raw", 8000), ("raw/g3plx.raw", 8000),
    ("raw/vk5qi.raw", 8000), ("raw/ve9qrp.raw", 8000), ("raw/speech_orig_16k.wav", None),
    ("wav/david4.wav", None), ("wav/vk2tpm_004.wav", None), ("wav/wia_16kHz.wav", None),
)

REAL_DIR_INDEX = "files.tsv"
REAL_DIR_COLUMNS = ("path", "language", "speaker", "licence")  # files.tsv may have more
VOLUNTEER_PREFIX = "spk"  # speakers eligible for holding out; readers of long texts are not


def _klettres_names(langdir: Path) -> dict[str, str]:
    """{"<lang>/<kind>/<file>": what is said} from a klettres language's sounds.xml."""
    names: dict[str, str] = {}
    xml = langdir / "sounds.xml"
    if xml.is_file():
        try:
            for el in ET.parse(xml).iter("sound"):
                if el.get("file") and el.get("name"):
                    names[el.get("file")] = el.get("name")
        except ET.ParseError:
            pass
    return names


def klettres_files(languages: Collection[str] | None = None,
                   root: str = KLETTRES_DIR) -> list[dict]:
    """klettres-data recordings of ``languages`` (all when None): ``[{path, language, kind,
    text}]`` sorted by language, kind and path; [] when klettres-data is not installed."""
    out: list[dict] = []
    rootp = Path(root)
    if not rootp.is_dir():
        return out
    for langdir in sorted(p for p in rootp.iterdir() if p.is_dir()):
        lang = langdir.name
        if languages is not None and lang not in languages:
            continue
        names = _klettres_names(langdir)
        for kind in ("alpha", "syllab"):
            for f in sorted((langdir / kind).glob("*.ogg")):
                out.append({"path": str(f), "language": lang, "kind": kind,
                            "text": names.get(f"{lang}/{kind}/{f.name}")})
    return out


def codec2_files(root: str = CODEC2_DIR) -> list[dict]:
    """The real speech recordings of codec2-examples that are installed: ``[{path, raw_rate}]``
    (``raw_rate`` in Hz for headerless s16le files, None for WAV)."""
    return [{"path": os.path.join(root, rel), "raw_rate": rate}
            for rel, rate in CODEC2_SPEECH if os.path.isfile(os.path.join(root, rel))]


@dataclass(frozen=True)
class RealDirFile:
    """One row of a real-recordings folder's files.tsv (``path`` relative to the folder)."""
    path: str
    language: str
    speaker: str
    licence: str


def _row(index: Path, lineno: int, row: list[str], header: list[str]) -> RealDirFile:
    if len(row) != len(header):
        raise TeluCodecError(f"{index}:{lineno}: expected {len(header)} tab-separated columns, "
                             f"got {len(row)}")
    fields = dict(zip(header, row))
    rel = fields["path"]
    if not rel or os.path.isabs(rel) or ".." in Path(rel).parts:
        raise TeluCodecError(f"{index}:{lineno}: path {rel!r} must be relative to the folder")
    if not fields["speaker"] or not fields["licence"]:
        raise TeluCodecError(f"{index}:{lineno}: speaker and licence must not be empty")
    return RealDirFile(rel, fields["language"], fields["speaker"], fields["licence"])


def read_real_dir(root: str | os.PathLike) -> list[RealDirFile]:
    """The recordings listed in ``root/files.tsv`` (tab-separated, a header naming at least
    path, language, speaker and licence), sorted by path.

    Raises TeluCodecError when the folder or its files.tsv is missing or malformed, or when
    none of the listed files exists (a single missing file is left to the caller).
    """
    root = Path(root)
    index = root / REAL_DIR_INDEX
    if not root.is_dir():
        raise TeluCodecError(f"{root}: no such folder of real recordings")
    if not index.is_file():
        raise TeluCodecError(f"{index}: no such file (a --real-dir folder lists its recordings "
                             f"there: {', '.join(REAL_DIR_COLUMNS)})")
    try:
        with open(index, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except (OSError, UnicodeDecodeError) as exc:
        raise TeluCodecError(f"{index}: cannot read as UTF-8 text ({exc})") from None
    header = rows[0] if rows else []
    missing = [c for c in REAL_DIR_COLUMNS if c not in header]
    if missing:
        raise TeluCodecError(f"{index}: header lacks column(s) {', '.join(missing)}")
    files = [_row(index, n, row, header) for n, row in enumerate(rows[1:], start=2) if row]
    if not files:
        raise TeluCodecError(f"{index}: lists no recordings")
    if not any((root / f.path).is_file() for f in files):
        raise TeluCodecError(f"{root}: none of the {len(files)} files listed in "
                             f"{REAL_DIR_INDEX} exists")
    return sorted(files, key=lambda f: f.path)


def heldout_real_speakers(speakers: Iterable[str], count: int) -> set[str]:
    """The speakers of a real-recordings folder that are held out: among those whose id starts
    with ``spk``, the first ``count`` in the order of their ids' SHA-1 hex digests. (Training
    runs elsewhere use this exact rule; change it and their held-out sets stop matching.)"""
    volunteers = sorted({s for s in speakers if s.startswith(VOLUNTEER_PREFIX)},
                        key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    return set(volunteers[:count])
