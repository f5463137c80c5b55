"""espeak-ng through ctypes: IPA phonemes of words in any of its languages, and speech synthesis.

The library and its data come with the ``espeakng-loader`` wheel (nothing is downloaded and no
system package is needed). espeak-ng keeps one global state per process (the current voice, the
synthesis callback), so every call here takes one process-wide lock, and the library is loaded and
initialised once, on first use (`_library`, idempotent: later calls return the same handle).

Synthesis is used to make speech with known timing: the phoneme events that espeak-ng reports while
it speaks say where each phoneme starts, in the synthesised audio, to the sample.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from mytalk.core.errors import UsageError
from mytalk.core.media.audio import AudioTrack

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PHONEME_SEPARATOR = "_"
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1

_LOCK = threading.Lock()
"""espeak-ng's state is global to the process: one caller at a time."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the synthesis
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated code)*, then a 0 byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class _Library:
    lib: Any
    rate: int


@functools.cache
def _library() -> _Library:
    """Load and initialise libespeak-ng once per process (idempotent; the handle is cached)."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.restype = ctypes.c_int
    options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), options)
    if rate <= 0:
        raise RuntimeError(f"espeak-ng failed to initialise (code {rate}); reinstall espeakng-loader")
    return _Library(lib, int(rate))


@functools.cache
def espeak_languages() -> tuple[str, ...]:
    """Language codes of espeak-ng's voices ("af", "de", "en-us", "es", "es-419", ...), sorted."""
    lib = _library().lib
    codes: set[str] = set()
    with _LOCK:
        voices = lib.espeak_ListVoices(None)
        i = 0
        while voices[i]:
            address = voices[i].contents.languages
            # Each entry: one priority byte, then a NUL-terminated language code; a 0 byte ends the list.
            while address and ctypes.string_at(address, 1) != b"\x00":
                code = ctypes.string_at(address + 1)
                codes.add(code.decode("utf-8", "replace"))
                address += len(code) + 2
            i += 1
    return tuple(sorted(c for c in codes if c))


def check_language(language: str) -> str:
    """``language`` normalised (lower case, "_" → "-"); `UsageError` when espeak-ng has no such voice."""
    code = language.strip().lower().replace("_", "-")
    if code not in espeak_languages():
        raise UsageError(
            f"unknown language code {language!r} for phone timing; use an espeak-ng language code such as "
            "'en', 'es', 'de', 'fr' (list them with: python -c \"from mytalk.core.audio.espeak import "
            "espeak_languages; print(espeak_languages())\")"
        )
    return code


def _set_voice(lib: Any, language: str) -> None:
    if lib.espeak_SetVoiceByName(language.encode()) != 0:
        raise UsageError(f"espeak-ng has no voice for language {language!r}; see espeak_languages()")


def ipa_words(words: list[str], language: str) -> list[str]:
    """espeak-ng's IPA for each word (phonemes separated by "_", stress marks kept; several
    spoken words, as for "1961", come separated by spaces). "" for a word it gives nothing for."""
    code = check_language(language)
    lib = _library().lib
    mode = _PHONEMES_IPA | (ord(_PHONEME_SEPARATOR) << 8)
    out: list[str] = []
    with _LOCK:
        _set_voice(lib, code)
        for word in words:
            buffer = ctypes.create_string_buffer(word.encode("utf-8"))
            pointer = ctypes.c_char_p(ctypes.addressof(buffer))
            pieces: list[str] = []
            # TextToPhonemes returns one clause per call and advances the pointer; NULL at the end.
            while pointer.value:
                result = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, mode)
                if result:
                    pieces.append(result.decode("utf-8", "replace").strip())
            out.append(" ".join(p for p in pieces if p))
    return out


@dataclass(frozen=True)
class Synthesis:
    """Speech from espeak-ng: ``track`` (mono, espeak's native rate, 22050 Hz), and ``phonemes``
    as (IPA, start_s) in the order spoken, ``words`` as (text_position, start_s): true timing."""

    track: AudioTrack
    phonemes: tuple[tuple[str, float], ...]
    words: tuple[tuple[int, float], ...]


def synthesize(text: str, language: str = "en", *, words_per_minute: int = 150) -> Synthesis:
    """Speak ``text`` with espeak-ng's voice for ``language``; see `Synthesis`."""
    code = check_language(language)
    library = _library()
    lib = library.lib
    chunks: list[np.ndarray] = []
    phonemes: list[tuple[str, float]] = []
    words: list[tuple[int, float]] = []

    def on_audio(wav: Any, count: int, events: Any) -> int:
        if count > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                name = bytes(event.id.string).split(b"\x00")[0].decode("utf-8", "replace")
                phonemes.append((name, event.audio_position / 1000.0))
            elif event.type == _EVENT_WORD:
                words.append((event.text_position, event.audio_position / 1000.0))
            i += 1
        return 0

    callback = _SynthCallback(on_audio)
    data = text.encode("utf-8") + b"\x00"
    with _LOCK:
        _set_voice(lib, code)
        lib.espeak_SetParameter(_PARAM_RATE, int(words_per_minute), 0)
        lib.espeak_SetSynthCallback(callback)
        status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
    if status != 0:
        raise RuntimeError(f"espeak-ng could not synthesise the text (code {status})")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    track = AudioTrack((samples.astype(np.float32) / 32768.0)[None, :], library.rate)
    return Synthesis(track, tuple(phonemes), tuple(words))
