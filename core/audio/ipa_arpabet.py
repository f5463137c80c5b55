"""IPA (as espeak-ng writes it) onto the phone set of pocketsphinx's en-us acoustic model.

Why: the only acoustic model we ship is English, trained on many speakers. Speech in another
language can still be force-aligned with it if each word's phonemes are written with the English
phones that sound (and look) closest. The mapping serves two judges at once: the acoustic model,
which must find the phone in the audio, and the mouth, which must make the right shape. Where they
disagree the mouth wins a tie (a bilabial approximant β is written B, not V: lips, not lip-teeth).

Choices, by class:
- vowels go to the closest English vowel by height, backness and rounding: i→IY, ɪ→IH, e→EY,
  ɛ→EH, a/ɑ→AA, ɔ→AO, o→OW, ʊ→UH, u→UW, ə/ɐ/ʌ→AH, ɜ→ER; front rounded vowels keep their rounding:
  y→UW, ʏ→UH, ø/œ→ER (a mid, lightly rounded, central English vowel);
- diphthongs that English has map to its diphthong (aɪ→AY, aʊ→AW, ɔɪ/ɔʏ→OY, oʊ→OW, eɪ→EY);
- nasal vowels (a tilde) become the vowel followed by N: the velum lowers, which the model hears
  as a nasal coda, and the lips keep the vowel's shape;
- trills, taps and uvular r (r, ɾ, ʀ, ʁ, ɹ) → R; ɲ → N Y; ʎ → L Y; ç, x, χ → HH (a voiceless
  fricative with an open mouth; K would close the tract); ɣ → G; β → B; ɸ → F; ʋ → V; ɥ → W;
- affricates: tʃ/tɕ/tʂ → CH, dʒ/dʑ → JH, ts → T S, dz → D Z, pf → P F;
- stress (ˈ ˌ), length (ː ˑ), syllable breaks, ties and diacritics (dental, aspiration,
  palatalisation, syllabicity) are dropped: the model has no units for them; the glottal stop ʔ is
  dropped too (no English phone; the silence model takes it).
"""

from __future__ import annotations

import unicodedata

ARPABET_PHONES: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)
"""The en-us acoustic model's phones (its mdef), silence excluded."""

_IPA_TO_ARPABET: dict[str, str] = {
    # vowels
    "i": "IY", "ɪ": "IH", "ɨ": "IH", "ᵻ": "IH", "e": "EY", "ɛ": "EH", "æ": "AE", "a": "AA", "ɑ": "AA",
    "ɒ": "AA", "ɐ": "AH", "ə": "AH", "ɘ": "AH", "ʌ": "AH", "ɜ": "ER", "ɚ": "ER", "ɝ": "ER", "ɵ": "ER",
    "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "ʉ": "UW", "ɯ": "UW", "ɤ": "AH",
    "y": "UW", "ʏ": "UH", "ø": "ER", "œ": "ER", "ɶ": "AO",
    # diphthongs
    "aɪ": "AY", "ai": "AY", "aʊ": "AW", "au": "AW", "ɔɪ": "OY", "ɔʏ": "OY", "ɔø": "OY", "oi": "OY", "oɪ": "OY",
    "oʊ": "OW", "əʊ": "OW", "eɪ": "EY", "ei": "EY", "eʊ": "EH UW", "eu": "EH UW",
    "ɪə": "IH AH", "eə": "EH AH", "ʊə": "UH AH", "aɪə": "AY AH", "aʊə": "AW AH",
    # stops
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "q": "K", "ɢ": "G",
    "c": "K", "ɟ": "G", "ʈ": "T", "ɖ": "D",
    # nasals
    "m": "M", "ɱ": "M", "n": "N", "ɳ": "N", "ŋ": "NG", "ɴ": "NG", "ɲ": "N Y",
    # fricatives
    "f": "F", "v": "V", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH",
    "ʂ": "SH", "ʐ": "ZH", "ɕ": "SH", "ʑ": "ZH", "ç": "HH", "x": "HH", "χ": "HH", "ħ": "HH",
    "h": "HH", "ɦ": "HH", "ɣ": "G", "ʝ": "Y", "ɸ": "F", "β": "B", "ʕ": "HH",
    # affricates
    "tʃ": "CH", "tɕ": "CH", "tʂ": "CH", "dʒ": "JH", "dʑ": "JH", "dʐ": "JH", "ts": "T S",
    "dz": "D Z", "pf": "P F", "tθ": "T TH",
    # rhotics and approximants
    "r": "R", "ɾ": "R", "ɹ": "R", "ɻ": "R", "ʀ": "R", "ʁ": "R", "ɽ": "R", "ɺ": "R", "˞": "R",
    "l": "L", "ɫ": "L", "ɭ": "L", "ʟ": "L", "ɬ": "L", "ʎ": "L Y",
    "j": "Y", "w": "W", "ʍ": "W", "ɥ": "W", "ʋ": "V", "ɰ": "W",
}

_DROPPED = set("ˈˌːˑ.‿|‖ʔ-'") | {"\u0361", "\u035c", "ʰ", "ʲ", "ʷ", "ˠ", "ˤ", "ⁿ", "ˡ"}
"""Marks with no unit in the model: stress, length, syllable and group breaks, ties, secondary articulations."""

_NASAL = "\u0303"
_LONGEST = max(len(k) for k in _IPA_TO_ARPABET)


def _clean(token: str) -> tuple[str, bool]:
    """The token without marks and diacritics, and whether it was nasalised."""
    nasal = _NASAL in token
    out = []
    for char in unicodedata.normalize("NFD", token):
        # The cedilla stays so that ç recomposes; other combining marks are diacritics to drop.
        if char in _DROPPED or (unicodedata.combining(char) and char != "\u0327"):
            continue
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out)), nasal


def ipa_to_arpabet(ipa: str) -> tuple[list[str], list[str]]:
    """ARPAbet phones for an IPA string, and the IPA symbols that had no mapping (dropped).

    ``ipa`` is one word's phonemes as `mytalk.core.audio.espeak.ipa_words` gives them ("_" between
    phonemes, spaces between words); a string without separators is split greedily, longest
    symbol first.
    """
    phones: list[str] = []
    unknown: list[str] = []
    for chunk in ipa.replace(" ", "_").split("_"):
        text, nasal = _clean(chunk)
        i = 0
        while i < len(text):
            for size in range(min(_LONGEST, len(text) - i), 0, -1):
                mapped = _IPA_TO_ARPABET.get(text[i : i + size])
                if mapped is not None:
                    phones.extend(mapped.split())
                    i += size
                    break
            else:
                unknown.append(text[i])
                i += 1
        if nasal and phones and phones[-1] not in ("N", "M", "NG"):
            phones.append("N")
    return phones, unknown
