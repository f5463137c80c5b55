"""An FCP 7 XML cut (Premiere's, Final Cut Pro 7's, Resolve's export) says which channels of a camera file it plays:
the shot's guide hears them.

The cut is written as Premiere Pro writes FCP 7 XML (`xmeml` version 4: a sequence with its 01:00:00:00
timecode, the clip's video item with the file defined once, its audio items on audio tracks naming their source
channel in `<sourcetrack><trackindex>`). OpenTimelineIO's FCP adapter reads the picture and drops `sourcetrack`;
`plugin/hosts/fcp_audio.py` reads it from the XML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from camera_files import four_microphone_take

from conftest import media_path
from mytalk.plugin.hosts.otio_timeline import OtioTimeline

pytestmark = pytest.mark.media

RATE = "<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>"


@pytest.fixture(scope="module")
def camera_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return four_microphone_take(tmp_path_factory.mktemp("camera"))


def _item_head(number: int, enabled: bool = True) -> str:
    """A clip item of the file's frames 0-100 at the cut's start, up to its `<file>`."""
    return f"""<clipitem id="clipitem-{number}">
            <masterclipid>masterclip-1</masterclipid>
            <name>camera_take.mov</name>
            <enabled>{"TRUE" if enabled else "FALSE"}</enabled>
            <duration>200</duration>
            {RATE}
            <start>0</start>
            <end>100</end>
            <in>0</in>
            <out>100</out>"""


def _audio_item(number: int, channel: int, enabled: bool = True, track: str = "") -> str:
    """One audio track holding one item of source channel `channel`; `track`: the track's attributes."""
    return f"""
        <track{track}>
          {_item_head(number, enabled)}
            <file id="file-1"/>
            <sourcetrack>
              <mediatype>audio</mediatype>
              <trackindex>{channel}</trackindex>
            </sourcetrack>
          </clipitem>
          <enabled>TRUE</enabled>
          <locked>FALSE</locked>
        </track>"""


EXPLODED = ' currentExplodedTrackIndex="{}" totalExplodedTrackCount="2" premiereTrackType="Stereo"'
"""Premiere's stereo track, exploded into two tracks of one channel each (formatted with 0, then 1)."""
STEREO = ' currentExplodedTrackIndex="0" totalExplodedTrackCount="1" premiereTrackType="Stereo"'
"""A stereo track that is not exploded: its item may carry two channels."""


def premiere_cut(path: Path, media: Path, channels: list[tuple[int, bool]], tracks: list[str] | None = None) -> Path:
    """A 4 s cut of `media`'s frames 0-100 at 01:00:00:00, with one audio item per (source channel, enabled), each
    on a track of its own (`tracks`: their attributes; plain FCP 7 tracks by default)."""
    kinds = tracks or [""] * len(channels)
    audio = "".join(_audio_item(2 + index, channel, enabled, kinds[index])
                    for index, (channel, enabled) in enumerate(channels))
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
  <sequence id="sequence-1">
    <duration>100</duration>
    {RATE}
    <name>CUT</name>
    <media>
      <video>
        <track>
          {_item_head(1)}
            <file id="file-1">
              <name>camera_take.mov</name>
              <pathurl>file://localhost{media.as_posix()}</pathurl>
              {RATE}
              <duration>200</duration>
              <media>
                <video>
                  <samplecharacteristics>{RATE}<width>512</width><height>512</height></samplecharacteristics>
                </video>
                <audio>
                  <samplecharacteristics><depth>16</depth><samplerate>48000</samplerate></samplecharacteristics>
                  <channelcount>4</channelcount>
                </audio>
              </media>
            </file>
          </clipitem>
          <enabled>TRUE</enabled>
          <locked>FALSE</locked>
        </track>
      </video>
      <audio>{audio}
      </audio>
    </media>
    <timecode>
      {RATE}
      <string>01:00:00:00</string>
      <frame>90000</frame>
      <displayformat>NDF</displayformat>
    </timecode>
  </sequence>
</xmeml>
""", encoding="utf-8")
    return path


@pytest.mark.parametrize(("channels", "tracks", "pick"), [
    ([(3, True)], None, "3"),  # the boom alone
    ([(4, False), (3, True)], None, "3"),  # the lavalier's item disabled
    ([(1, True), (2, True)], None, "1-2"),  # the recorder's mix, both sides
    ([(3, True), (4, True)], [EXPLODED.format(0), EXPLODED.format(1)], "3-4"),  # a Premiere stereo pair
    ([(3, True)], [' premiereTrackType="Mono"'], "3"),  # a Premiere mono track
    ([(3, True)], [STEREO], None),  # a stereo track not exploded: which channels is not said
    ([(1, True)], None, None),  # the first stream: what a job hears without a pick
    ([], None, None),  # no sound in the cut: nothing said
], ids=["boom", "lav-disabled", "mix-pair", "exploded-stereo", "mono-track", "unexploded-stereo", "default",
        "silent"])
def test_a_shot_of_an_fcp_xml_cut_guides_with_the_channels_it_plays(tmp_path: Path, camera_take: Path,
                                                                    channels: list[tuple[int, bool]],
                                                                    tracks: list[str] | None,
                                                                    pick: str | None) -> None:
    cut = OtioTimeline(premiere_cut(tmp_path / "CUT.xml", camera_take, channels, tracks))
    shot = cut.shot(cut.parse_record("01:00:00:10"), cut.parse_record("01:00:02:10"))
    assert (shot.video, shot.source_start, shot.source_stop) == (camera_take, 10, 60)
    assert shot.guide_channels == pick


def test_the_panel_on_an_fcp_xml_shot_picks_the_boom_for_the_guide(qtbot: Any, tmp_path: Path,
                                                                  camera_take: Path) -> None:
    from mytalk.plugin.standalone import StandaloneWindow

    cut = premiere_cut(tmp_path / "CUT.xml", camera_take, [(3, True)])
    window = StandaloneWindow(audio=media_path("audio", "jfk_inaugural_en_16k.wav"), timeline=cut,
                              start_runtime=False)
    qtbot.addWidget(window)
    try:
        assert window.timeline_dock is not None
        window.timeline_dock.pick_clip(0)
        panel = window.panel
        assert panel.clip == camera_take and panel.model.guide_channels == "3"
        assert panel.guide_channels_box.caption() == "Ch 3 BOOM"
        assert "what the cut plays with" in panel.status_line.full_text
    finally:
        window.panel.shutdown()
