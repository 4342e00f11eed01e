"""``--install-deps``: apt-get install the voices, tools and recordings the corpus needs."""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import TeluCodecError

log = logging.getLogger("telucodec")

APT_PACKAGES = ("festival", "festival-te", "festvox-te-nsk", "espeak-ng", "sox", "aspell",
                "aspell-te", "klettres-data", "codec2-examples")
APT_NONFREE_PACKAGES = ("mbrola", "mbrola-tl1", "mbrola-in1", "mbrola-in2")
CONTRIB_NONFREE_SOURCES = Path("/etc/apt/sources.list.d/contrib-nonfree.sources")


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["?"])[-1]


def install_deps(nonfree: bool = True) -> None:
    """apt-get install the voices, sox, aspell-te and the real-speech packages (needs root).

    The MBROLA voices are in Debian non-free (mbrola itself in contrib): a sources entry for
    contrib + non-free on the mirror already configured is added when they are not available.
    A failure to install them is a warning; a failure on the main packages raises
    TeluCodecError, as do a system without apt-get and a user who is not root.
    """
    if not shutil.which("apt-get"):
        raise TeluCodecError("--install-deps needs apt-get (Debian/Ubuntu)")
    if os.geteuid() != 0:
        raise TeluCodecError("--install-deps needs root (run as root or install the packages: "
                             + " ".join(APT_PACKAGES + APT_NONFREE_PACKAGES) + ")")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-qq"]

    def call(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=env, capture_output=True, text=True)

    if nonfree and not re.search(r"Candidate: [0-9]",
                                 call(["apt-cache", "policy", "mbrola-tl1"]).stdout):
        add_contrib_nonfree()
    r = call(apt[:3] + ["update", "-qq"])
    if r.returncode != 0:
        log.warning("apt-get update failed: %s", _last_line(r.stderr))
    r = call(apt + ["install"] + list(APT_PACKAGES))
    if r.returncode != 0:
        raise TeluCodecError("apt-get install failed: " + _last_line(r.stderr))
    if nonfree:
        r = call(apt + ["install"] + list(APT_NONFREE_PACKAGES))
        if r.returncode != 0:
            log.warning("could not install the MBROLA voices (contrib/non-free): %s",
                        _last_line(r.stderr))


def _os_release() -> dict[str, str]:
    fields = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        fields[key] = value.strip('"')
    return fields


def _configured_mirror() -> str:
    """The Debian mirror apt already uses (deb822 or one-line sources), else deb.debian.org."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.is_file():
        m = re.search(r"^URIs:\s*(\S+)", deb822.read_text(), re.M)
        if m:
            return m.group(1)
    one_line = Path("/etc/apt/sources.list")
    if one_line.is_file():
        m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", one_line.read_text(), re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def add_contrib_nonfree() -> None:
    """Add a deb822 sources entry for Debian's contrib and non-free components of the
    installed release on the configured mirror (a warning and nothing done elsewhere)."""
    try:
        release = _os_release()
    except OSError:
        return
    codename = release.get("VERSION_CODENAME")
    if release.get("ID") != "debian" or not codename:
        log.warning("not Debian: add the repository that has mbrola-tl1 yourself "
                    "(multiverse on Ubuntu)")
        return
    CONTRIB_NONFREE_SOURCES.write_text(
        f"Types: deb\nURIs: {_configured_mirror()}\nSuites: {codename}\n"
        "Components: contrib non-free\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
