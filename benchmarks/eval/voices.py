"""Synthetic non-English speech for the dub protocol, spoken by espeak-ng on the fly.

Why: the product requirement is dub measured with at least three different voices, one not
English, and every speech file in the shared media is English. A line in another language
exercises what English alone cannot: per-speaker feature normalisation meets a new voice with
other phonemes, another rhythm and another pitch range, and the mouth must still follow it.

What it is not: a real speaker. espeak-ng is a formant synthesiser; its voice is flat, its
pauses are regular and its consonants are crisper than a recording's. Figures measured with it
show that the tool follows an unfamiliar voice, not how it does on real foreign speech, and the
report marks every such line as synthetic ("voice": "synthetic es (espeak-ng)").

The lines are generated, never committed: the texts below are the only source, each file name
carries a hash of text, voice and synthesis settings, and an existing file with that name is
reused. Each line is about 35 s, longer than the full-setting window of every shared clip
(the longest, the cutaway clip, is 22.7 s), so the dub protocol never has to fall back on a
shorter file for the clip that gets it.

English lines with known words (`KNOWN_TEXT_LINES`, for the closures protocol): written for the
mouth shapes of issue #11 (lip closures on p/b/m, lip-on-teeth on f/v, rounding on "oo",
spreading on "ee"), about 10 s each. Here synthesis is the point rather than a stand-in: the
words are known exactly, so forced alignment places every phone, and the pauses are digital
silence between sentences.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ESPEAK = "espeak-ng"

ENGINE_LABEL = "espeak-ng"


@dataclass(frozen=True)
class VoiceText:
    """One synthetic line: the espeak-ng voice and the text, as paragraphs of sentences.

    Sentences are spoken one espeak-ng call each and joined with silences of our own, so the
    pauses are real digital silence of a known length: the dub protocol's closed-mouth figure
    needs silent frames, and espeak-ng's own pause at a full stop is short (about 0.2 s).
    """

    language: str
    voice: str
    paragraphs: tuple[tuple[str, ...], ...]

    @property
    def text(self) -> str:
        """Every sentence in order, space-separated: the transcript of the whole line."""
        return " ".join(sentence for paragraph in self.paragraphs for sentence in paragraph)


SPANISH = VoiceText(
    language="es",
    voice="es",
    paragraphs=(
        (
            "Esta mañana salí temprano de casa para llegar a tiempo a la estación.",
            "El tren iba lleno, pero encontré un asiento junto a la ventana.",
            "Vi pasar los campos y los pueblos blancos.",
        ),
        (
            "En la ciudad fui directamente a la reunión.",
            "Hablamos del nuevo proyecto y de lo que todavía nos falta.",
            "Al final, todos salimos contentos.",
        ),
        (
            "Por la tarde di un paseo por el parque.",
            "Hacía buen tiempo y había mucha gente en la hierba.",
            "Mañana vuelvo a empezar, y espero un día más tranquilo.",
        ),
    ),
)

GERMAN = VoiceText(
    language="de",
    voice="de",
    paragraphs=(
        (
            "Gestern Abend habe ich endlich das Buch gelesen, das mir meine Schwester geschenkt hat.",
            "Es erzählt von einer Familie, die an der Küste ein kleines Hotel führt.",
            "Jedes Kapitel wird spannender.",
        ),
        (
            "Heute Morgen war das Wetter kalt und klar.",
            "Ich bin mit dem Fahrrad zur Arbeit gefahren.",
            "Die erste Besprechung begann pünktlich um neun.",
        ),
        (
            "Am Wochenende fahren wir in die Berge.",
            "Wir wollen wandern und abends lange zusammensitzen.",
            "Hoffentlich regnet es nicht, denn wir freuen uns schon lange darauf.",
        ),
    ),
)

VOICES: tuple[VoiceText, ...] = (SPANISH, GERMAN)
"""The synthetic lines, in the order the dub rotation takes them."""

KNOWN_TEXT_LINES: tuple[VoiceText, ...] = (
    VoiceText(
        language="en",
        voice="en-us+f3",
        paragraphs=(
            (
                "Bobby put the maple bench by the pool.",
                "My mother made apple pie, but Paul ate most of it.",
            ),
            ("Please bring me both maps before lunch.",),
        ),
    ),
    VoiceText(
        language="en",
        voice="en-us+f3",
        paragraphs=(
            (
                "Five fine violins arrived from Vienna.",
                "We see the green leaves of every tree.",
            ),
            ("Eve feels cheerful when she leaves the village.",),
        ),
    ),
    VoiceText(
        language="en",
        voice="en-us+f3",
        paragraphs=(
            (
                "We saw the moon above the blue lagoon.",
                "Sue keeps sweet food in the room.",
            ),
            ("Who knew you would move so soon?",),
        ),
    ),
)
"""English lines with known words for the closures protocol: one rich in p/b/m, one in f/v and
"ee", one in "oo" and "ee"; each word is in the aligner's English dictionary. The voice is espeak-ng's
en-us with its "f3" variant: with the plain en-us, en-gb and m3 voices pocketsphinx's forced
alignment fails on most of these sentences ("no word alignment found"); f3 aligns every one.
The 3 lines last 10.6, 9.9 and 8.5 s at 150 words per minute."""

SPEED_WPM = 150
"""espeak-ng's rate in words per minute. Its default (175) is faster than people read aloud."""

SENTENCE_PAUSE_S = 0.45
PARAGRAPH_PAUSE_S = 1.0
"""Silences added between sentences and between paragraphs: the pauses of someone reading."""

_NAME = re.compile(r"^synthetic-(?P<language>[a-z]{2,3}(?:-[a-z0-9]+)?)-espeak-ng-[0-9a-f]{12}\.wav$")


def espeak_available() -> bool:
    """Whether espeak-ng is on PATH (CI images may not have it; Debian's package is `espeak-ng`)."""
    return shutil.which(ESPEAK) is not None


def voice_file_name(text: VoiceText) -> str:
    """`synthetic-LANG-espeak-ng-HASH.wav`: the hash covers everything that shapes the sound, so
    a changed text, voice or setting gets a new file and a cached one is never stale."""
    key = repr((text.voice, text.paragraphs, SPEED_WPM, SENTENCE_PAUSE_S, PARAGRAPH_PAUSE_S))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"synthetic-{text.language}-{ENGINE_LABEL}-{digest}.wav"


def voice_label(path: Path) -> str | None:
    """"synthetic es (espeak-ng)" for a file written here, None for any other (real) speech."""
    match = _NAME.match(path.name)
    return None if match is None else f"synthetic {match['language']} ({ENGINE_LABEL})"


def _speak(sentence: str, voice: str, folder: Path) -> tuple[np.ndarray, int]:
    """One sentence as int16 samples and their rate (espeak-ng writes 22050 Hz mono 16-bit)."""
    path = folder / "sentence.wav"
    done = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(SPEED_WPM), "-w", str(path), sentence],
        capture_output=True, text=True, timeout=60,
    )
    if done.returncode != 0 or not path.is_file():
        message = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
        raise RuntimeError(f"{ESPEAK} -v {voice} failed: {message}")
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise RuntimeError(f"{ESPEAK} wrote {wav.getnchannels()} channel(s) of {8 * wav.getsampwidth()} bit; expected 16-bit mono")
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return samples, rate


def synthesise(text: VoiceText, path: Path) -> Path:
    """Speak `text` into `path` (16-bit mono WAV at espeak-ng's rate), through a temporary file
    renamed at the end, so an interrupted run never leaves a truncated file for the cache."""
    pieces: list[np.ndarray] = []
    rate = 0
    with tempfile.TemporaryDirectory(prefix="mytalk-voice-") as tmp:
        for paragraph in text.paragraphs:
            for s, sentence in enumerate(paragraph):
                samples, rate = _speak(sentence, text.voice, Path(tmp))
                if pieces:
                    pause = SENTENCE_PAUSE_S if s else PARAGRAPH_PAUSE_S
                    pieces.append(np.zeros(int(round(pause * rate)), np.int16))
                pieces.append(samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.concatenate(pieces).astype("<i2").tobytes())
    partial.replace(path)
    return path


def synthesise_known_lines(folder: Path, lines: tuple[VoiceText, ...] = KNOWN_TEXT_LINES) -> list[tuple[Path, str]]:
    """The English known-text lines as (wav path, transcript), written when missing, reused when
    present (same hashed names as `synthesise_voices`). [] when espeak-ng is not on PATH."""
    return list(zip(synthesise_voices(folder, lines), (line.text for line in lines), strict=True))


def synthesise_voices(folder: Path, voices: tuple[VoiceText, ...] = VOICES) -> list[Path]:
    """The synthetic lines in `folder`, written when missing and reused when present.

    Returns [] when espeak-ng is not on PATH: the caller decides whether that is an error and
    says so (the CLI does, since the user asked for the voices). Raises RuntimeError when
    espeak-ng is there but fails (an unknown voice, say).
    """
    if not espeak_available():
        return []
    paths = []
    for text in voices:
        path = folder / voice_file_name(text)
        if not path.is_file():
            synthesise(text, path)
        paths.append(path)
    return paths
