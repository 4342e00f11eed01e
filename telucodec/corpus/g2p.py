"""Telugu grapheme-to-phoneme rules for the MBROLA voices (tl1 phone names; Hindi in1/in2 map)."""
from __future__ import annotations

VOWELS = {"అ": "a", "ఆ": "a:", "ఇ": "i", "ఈ": "i:", "ఉ": "u", "ఊ": "u:", "ఋ": "R", "ౠ": "R",
          "ఌ": "l u", "ౡ": "l u:", "ఎ": "e", "ఏ": "e:", "ఐ": "ai", "ఒ": "o", "ఓ": "o:", "ఔ": "au"}
SIGNS = {"ా": "a:", "ి": "i", "ీ": "i:", "ు": "u", "ూ": "u:", "ృ": "R", "ౄ": "R", "ె": "e",
         "ే": "e:", "ై": "ai", "ొ": "o", "ో": "o:", "ౌ": "au", "ౢ": "l u", "ౣ": "l u:"}
CONS = {"క": "k", "ఖ": "kh", "గ": "g", "ఘ": "gh", "ఙ": "n~", "చ": "c", "ఛ": "ch", "జ": "j",
        "ఝ": "jh", "ఞ": "N~", "ట": "T", "ఠ": "Th", "డ": "D", "ఢ": "Dh", "ణ": "N", "త": "t",
        "థ": "th", "ద": "d", "ధ": "dh", "న": "n", "ప": "p", "ఫ": "ph", "బ": "b", "భ": "bh",
        "మ": "m", "య": "y", "ర": "r", "ఱ": "r'", "ల": "l", "ళ": "L", "ఴ": "L", "వ": "v",
        "శ": "s'", "ష": "S", "స": "s", "హ": "h", "ౘ": "c", "ౙ": "j", "ౚ": "r'"}
VIRAMA = "\u0C4D"
NUKTA = "\u0C3C"
ANUSVARA = ("ం", "ఁ", "ఀ")
VISARGA = "ః"
# the anusvara is pronounced as the nasal made at the place of the consonant that follows it
NASAL_BY_PLACE = {
    **dict.fromkeys(("k", "kh", "g", "gh"), "n~"),
    **dict.fromkeys(("c", "ch", "j", "jh"), "N~"),
    **dict.fromkeys(("T", "Th", "D", "Dh", "N"), "N"),
    **dict.fromkeys(("t", "th", "d", "dh", "n", "s", "l", "r"), "n"),
    **dict.fromkeys(("p", "ph", "b", "bh", "m", "v"), "m"),
}

TL1_VOWELS = {"a", "a:", "i", "i:", "u", "u:", "e", "e:", "o", "o:", "ai", "au", "R"}
# Hindi in1/in2 phone set: a aa ii uu e o ai au; no short i/u, no e/o length contrast
HI_MAP = {"a:": "aa", "i": "ii", "i:": "ii", "u": "uu", "u:": "uu", "e:": "e", "o:": "o",
          "R": "r ii", "L": "l", "r'": "r", "s'": "sh", "S": "sh", "N~": "n", "n~": "n"}
HI_VOWELS = {"a", "aa", "ii", "uu", "e", "o", "ai", "au"}


def _anusvara_phone(rest: str) -> str:
    """The nasal an anusvara stands for, from the letters after it (``m`` before a vowel or at
    the end of the word)."""
    for ch in rest:
        if ch in CONS:
            return NASAL_BY_PLACE.get(CONS[ch], "m")
        if ch in VOWELS or ch in SIGNS:
            break
    return "m"


def _consonant(word: str, i: int, phones: list[str]) -> int:
    """Append the phones of the consonant at ``word[i]`` with its vowel; the next index."""
    phones.append(CONS[word[i]])
    i += 1
    if i < len(word) and word[i] == NUKTA:
        i += 1
    following = word[i] if i < len(word) else ""
    if following == VIRAMA:
        return i + 1
    if following in SIGNS:
        phones.extend(SIGNS[following].split())
        return i + 1
    phones.append("a")  # the inherent vowel
    return i


def word_to_phones(word: str) -> list[str]:
    """Telugu word -> tl1 phone names (abugida rules: inherent ``a``, virama, vowel signs,
    homorganic anusvara, visarga as ``h``); characters outside Telugu are ignored."""
    phones: list[str] = []
    i = 0
    while i < len(word):
        ch = word[i]
        if ch in CONS:
            i = _consonant(word, i, phones)
            continue
        if ch in VOWELS:
            phones.extend(VOWELS[ch].split())
        elif ch in ANUSVARA:
            phones.append(_anusvara_phone(word[i + 1:]))
        elif ch == VISARGA:
            phones.append("h")
        i += 1
    # the databases have velar/palatal nasals only before stops
    return [("n" if p in ("n~", "N~") and (j + 1 == len(phones) or phones[j + 1] in TL1_VOWELS)
             else p) for j, p in enumerate(phones)]
