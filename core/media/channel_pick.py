"""Which channels of a sound file the editor picks: the replacement line's, which the mouth follows and the
render carries, and the clip's own (the guide track), which the guide and the actor's learning hear.

Production sound comes as a polyphonic WAV (a mix on 1 and 2, the boom on 3, a lavalier per actor on
4 and up) and camera files carry their inputs as several mono streams. Mixing every channel of such a
file puts the other actor's lavalier, and the comb of two microphones, under the line; the editor
picks the microphone instead, by number or by the name the recorder gave the track (`wav_tracks`). The
same holds for the clip's own sound: a two-hander's mix under the guide times the other actor's words
against this actor's take, and labels this actor's mouth with them while learning.

Channels are numbered from 1 across the file's audio streams in order, as editors count a clip's
tracks (A1, A2, ...): in a poly WAV they are its channels, in a camera file with four mono streams
they are its streams. One pick must stay within one stream, since streams are timed apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.errors import UsageError
from mytalk.core.media.probe import open_input
from mytalk.core.media.wav_tracks import wav_track_names

__all__ = ["MIXED_ABOVE", "ChannelPick", "SoundChannel", "channel_list_words", "pick_channels", "sound_channels"]

MIXED_ABOVE = 2
"""A pick of more channels than this is mixed to one (their mean) for the render as for the mouth: no
channel layout says where a third microphone would go."""

_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")


@dataclass(frozen=True)
class SoundChannel:
    """One channel of a file: its number as the editor counts (from 1), where it is decoded from, its name."""

    number: int
    stream_index: int
    row: int
    name: str | None = None

    @property
    def words(self) -> str:
        """`3 BOOM`, or `3` for a channel without a name."""
        return f"{self.number} {self.name}" if self.name else str(self.number)

    def to_dict(self) -> dict[str, object]:
        return {"number": self.number, "stream": self.stream_index, "name": self.name}


@dataclass(frozen=True)
class ChannelPick:
    """The channels picked, all of one stream, in the order given (`2,1` swaps a stereo pair)."""

    channels: tuple[SoundChannel, ...]

    @property
    def stream_index(self) -> int:
        return self.channels[0].stream_index

    @property
    def rows(self) -> tuple[int, ...]:
        """The picked channels' places in their stream's decoded frames."""
        return tuple(channel.row for channel in self.channels)

    @property
    def words(self) -> str:
        """The pick as the report and the warnings name it: `3 BOOM`, `1 MIX L + 2 MIX R`."""
        return " + ".join(channel.words for channel in self.channels)

    def to_dict(self) -> dict[str, object]:
        return {"numbers": [c.number for c in self.channels], "names": [c.name for c in self.channels],
                "stream": self.stream_index}


def sound_channels(path: Path) -> list[SoundChannel]:
    """Every channel of the file's audio streams, numbered from 1 in stream order, with the recorder's
    names (a poly WAV's iXML or bext) or a stream's title where the file has them. Raises what
    `probe.open_input` raises for a file that is not there or cannot be opened."""
    with open_input(Path(path)) as container:
        streams = [(s.index, int(s.codec_context.channels or 0), _stream_title(s.metadata))
                   for s in container.streams.audio]
    recorded = wav_track_names(path) if len(streams) == 1 else {}
    channels: list[SoundChannel] = []
    for index, count, title in streams:
        for row in range(count):
            number = len(channels) + 1
            name = recorded.get(number) or (title if count == 1 and title else None)
            channels.append(SoundChannel(number, index, row, name))
    return channels


def _stream_title(metadata: dict[str, str]) -> str:
    """A stream's own name: Matroska's title, QuickTime's track name (`name`), MXF's `track_name`; never the
    handler's name, which QuickTime writers fill with their own ("SoundHandler")."""
    return next((str(metadata[key]).strip() for key in ("title", "name", "track_name") if metadata.get(key)), "")


def channel_list_words(channels: list[SoundChannel]) -> str:
    """`1 MIX L, 2 MIX R, 3 BOOM`: the channels as an error or a warning lists them."""
    return ", ".join(channel.words for channel in channels)


def pick_channels(text: str, path: Path, channels: list[SoundChannel] | None = None, *,
                  what: str = "--audio-channels") -> ChannelPick:
    """The channels `text` names in the line `path`: numbers (`3`), ranges (`1-2`) and track names
    (`boom`, any case), separated by commas. Raises `UsageError`, one line led by `what` (the option or
    the cue sheet's cell) that lists the file's channels, for anything it does not hold; `channels` are
    the file's (`sound_channels`) when known."""
    channels = sound_channels(path) if channels is None else channels
    listing = f"{path.name} has {len(channels)} channel{'s' if len(channels) != 1 else ''} ({channel_list_words(channels)})"
    if not channels:
        raise UsageError(f"{what} {text}: {path.name} has no audio channels; pick a file with sound")
    picked: list[SoundChannel] = []
    for token in (part.strip() for part in text.split(",")):
        if not token:
            raise UsageError(f"{what} {text!r}: an empty item; give numbers, ranges (1-2) or track "
                             f"names separated by commas: {listing}")
        picked.extend(_one_item(token, f"{what} {text}", channels, listing))
    numbers = [channel.number for channel in picked]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        raise UsageError(f"{what} {text}: channel {twice[0]} is picked twice; pick each once")
    streams = sorted({channel.stream_index for channel in picked})
    if len(streams) > 1:
        held = "; ".join(f"stream {s} holds {_numbers_words([c for c in channels if c.stream_index == s])}"
                         for s in streams)
        raise UsageError(f"{what} {text}: these channels are in different streams of {path.name} "
                         f"({held}); pick channels of one stream")
    return ChannelPick(tuple(picked))


def _one_item(token: str, lead: str, channels: list[SoundChannel], listing: str) -> list[SoundChannel]:
    """The channels one item of a pick names (`lead` opens an error: the option and the whole pick)."""
    by_number = {channel.number: channel for channel in channels}
    span = _RANGE.match(token)
    if token.isdigit() or span:
        first, last = (int(token), int(token)) if token.isdigit() else (int(span.group(1)), int(span.group(2)))  # type: ignore[union-attr]
        if first > last:
            raise UsageError(f"{lead}: the range {token} runs backwards; write {last}-{first}")
        missing = [n for n in range(first, last + 1) if n not in by_number]
        if missing:
            raise UsageError(f"{lead}: there is no channel {missing[0]}: {listing}; pick from those")
        return [by_number[n] for n in range(first, last + 1)]
    named = [channel for channel in channels if channel.name and channel.name.casefold() == token.casefold()]
    if not named:
        raise UsageError(f"{lead}: no channel is named {token!r}: {listing}; "
                         f"give a channel's number or name")
    if len(named) > 1:
        raise UsageError(f"{lead}: channels {_numbers_words(named)} are all named {token!r}; "
                         f"give the number of one")
    return named


def _numbers_words(channels: list[SoundChannel]) -> str:
    numbers = [channel.number for channel in channels]
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(str(n) for n in numbers)
