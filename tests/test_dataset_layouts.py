"""`mytalk dataset build` on corpora as they come: the LRS2, LRS3, VoxCeleb2, HDTF and plain-folder
layouts (speakers, transcripts, the corpus's own splits, HDTF's annotated spans), validation speakers
kept out of training, tar shards, parallel workers giving the same dataset as one, resuming after an
interruption (also a half-written member), the rejected clips with their reasons, and training on the
result."""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import media_path
from mytalk.core.engines.mytalk.dataset import Dataset, build_dataset
from mytalk.core.engines.mytalk.dataset_build import assign_splits, rejection_summary
from mytalk.core.engines.mytalk.dataset_layouts import corpus_clips, detect_layout, read_transcript
from mytalk.core.engines.mytalk.dataset_shards import (
    TarShardWriter,
    compact,
    member_key,
    remove_unindexed,
    shard_ends,
    stale_shards,
)
from mytalk.core.errors import JobCancelledError, UsageError
from mytalk.core.hashing import file_sha256

LRS_TEXT = "Text:  THE WEATHER TOMORROW\nConf:  4\n\nWORD START END ASDSCORE\nTHE 0.10 0.20 1.2\n"


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_each_layout_is_detected_and_read(tmp_path: Path) -> None:
    lrs2 = tmp_path / "lrs2"
    for clip in ("5535415699068794046/00001", "5535415699068794046/00002", "6330311066473698535/00011"):
        _touch(lrs2 / "mvlrs_v1" / "main" / f"{clip}.mp4")
        _touch(lrs2 / "mvlrs_v1" / "main" / f"{clip}.txt", LRS_TEXT)
    _touch(lrs2 / "val.txt", "6330311066473698535/00011 MV\n")
    lrs3 = tmp_path / "lrs3"
    for part, talk in (("trainval", "0af00UcTOSc"), ("pretrain", "0akiEFwtkyA"), ("test", "0Fi83BHQsMA")):
        _touch(lrs3 / part / talk / "50001.mp4")
        _touch(lrs3 / part / talk / "50001.txt", LRS_TEXT)
    vox = tmp_path / "vox"
    for part, speaker in (("dev", "id00012"), ("dev", "id00015"), ("test", "id00017")):
        _touch(vox / part / "mp4" / speaker / "21Uxsk56VDQ" / "00001.mp4")
    hdtf = tmp_path / "hdtf"
    # Raw downloads named as the annotation names them (with or without the group), and clips
    # already cut by a download script, which are taken whole.
    for name in ("AmyKlobuchar0", "WDA_AmyKlobuchar1", "RD_Radio11", "WDA_BarackObama_000", "RD_Radio31_000"):
        _touch(hdtf / f"{name}.mp4")
    _touch(hdtf / "HDTF_dataset" / "WDA_annotion_time.txt",  # the corpus's own lines and spelling
           "\ufeffAmyKlobuchar0.mp4 00:10-04:30\nAmyKlobuchar1.mp4 00:35-02:45 03:25-04:00\n")
    _touch(hdtf / "HDTF_dataset" / "RD_annotion_time.txt", "Radio11.mp4 00:30-01:00 01:30-02:30\n")
    own = tmp_path / "studio"
    _touch(own / "alice" / "take1.mov")
    _touch(own / "alice" / "take1.txt", "Where were you last night?\n")
    _touch(own / "bob" / "day2" / "take7.mxf")
    _touch(own / "test" / "take9.mp4")  # a speaker folder named like an LRS3 part is still a studio folder
    (own / "bob" / "day2" / "take7.txt").write_bytes("caf\xe9".encode("latin-1"))
    flat = tmp_path / "dailies"
    _touch(flat / "a.mov")
    _touch(flat / "b.mov")

    assert [detect_layout(p) for p in (lrs2, lrs3, vox, hdtf, own, flat)] == \
        ["lrs2", "lrs3", "voxceleb2", "hdtf", "folder", "folder"]

    _, clips = corpus_clips(lrs2)
    assert {(c.path.stem, c.speaker, c.split) for c in clips} == {
        ("00001", "5535415699068794046", "train"), ("00002", "5535415699068794046", "train"),
        ("00011", "6330311066473698535", "val")}
    assert {c.transcript for c in clips} == {"THE WEATHER TOMORROW"}
    _, clips = corpus_clips(lrs3)
    assert {(c.speaker, c.split) for c in clips} == {("0af00UcTOSc", "train"), ("0akiEFwtkyA", "train"),
                                                     ("0Fi83BHQsMA", "val")}
    _, clips = corpus_clips(vox)
    assert {(c.speaker, c.split) for c in clips} == {("id00012", "train"), ("id00015", "train"), ("id00017", "val")}
    _, clips = corpus_clips(hdtf)
    assert [(c.path.stem, c.speaker, c.span) for c in clips] == [
        ("AmyKlobuchar0", "WDA_AmyKlobuchar", "10s-270s"), ("RD_Radio11", "RD_Radio11", "30s-60s"),
        ("RD_Radio11", "RD_Radio11", "90s-150s"), ("RD_Radio31_000", "RD_Radio31", ""),
        ("WDA_AmyKlobuchar1", "WDA_AmyKlobuchar", "35s-165s"), ("WDA_AmyKlobuchar1", "WDA_AmyKlobuchar", "205s-240s"),
        ("WDA_BarackObama_000", "WDA_BarackObama", "")]
    _, clips = corpus_clips(own)
    assert sorted((c.path.name, c.speaker, c.transcript, c.problem is not None) for c in clips) == [
        ("take1.mov", "alice", "Where were you last night?", False), ("take7.mxf", "bob", None, True),
        ("take9.mp4", "test", None, False)]
    assert "not UTF-8" in next(c.problem for c in clips if c.problem)
    _, clips = corpus_clips(flat)
    assert {c.speaker for c in clips} == {"dailies"}
    assert read_transcript(own / "alice" / "take1.txt") == "Where were you last night?"

    with pytest.raises(UsageError, match="--layout 'lrs4'"):
        corpus_clips(lrs2, "lrs4")
    with pytest.raises(UsageError, match="not in the voxceleb2 layout"):
        corpus_clips(own, "voxceleb2")
    with pytest.raises(UsageError, match="not in the lrs2 layout"):
        corpus_clips(own, "lrs2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no videos"):
        corpus_clips(tmp_path / "empty")
    _touch(hdtf / "HDTF_dataset" / "RD_annotion_time.txt", "Radio11.mp4 00:09-00:02\n")
    with pytest.raises(UsageError, match="ends before it starts"):
        corpus_clips(hdtf)


BAD_INPUTS = [
    ("unknown layout", ["--layout", "lrs4"], "invalid choice: 'lrs4'"),
    ("layout mismatch", ["--layout", "voxceleb2"], "is not in the voxceleb2 layout"),
    ("empty folder", ["EMPTY"], "holds no videos"),
    ("missing input", ["MISSING"], "no such video or folder"),
    ("no workers", ["--workers", "0"], "--workers 0"),
]


@pytest.mark.parametrize(("case", "extra", "message"), BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_code_2(case: str, extra: list[str], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from mytalk.plugin.cli import main

    studio = tmp_path / "studio"
    _touch(studio / "alice" / "take1.mov")
    (tmp_path / "empty").mkdir()
    inputs = {"EMPTY": str(tmp_path / "empty"), "MISSING": str(tmp_path / "nowhere")}
    args = [inputs.get(a, a) for a in extra]
    if not any(a in inputs for a in extra):
        args.insert(0, str(studio))
    code = main(["dataset", "build", *args, "-o", str(tmp_path / "out"), "--quiet"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], (case, lines)


def test_validation_speakers_are_whole_and_never_trained_on() -> None:
    speakers = [f"speaker{i:02d}" for i in range(40)]
    entries = [{"speaker": s, "key": f"{s}-{n}"} for s in speakers for n in range(3)]
    assign_splits(entries, 0.1)
    val = {e["speaker"] for e in entries if e["split"] == "val"}
    train = {e["speaker"] for e in entries if e["split"] == "train"}
    assert val and train and not val & train
    again = [dict(e) for e in reversed(entries)]
    assign_splits(again, 0.1)
    assert {e["key"]: e["split"] for e in again} == {e["key"]: e["split"] for e in entries}
    pair = [{"speaker": "a", "key": "1"}, {"speaker": "b", "key": "2"}]
    assign_splits(pair, 0.05)
    assert sorted(e["split"] for e in pair) == ["train", "val"]
    alone = [{"speaker": "a", "key": "1"}, {"speaker": "a", "key": "2"}]
    assign_splits(alone, 0.99)
    assert {e["split"] for e in alone} == {"train"}
    corpus = [{"speaker": "a", "key": "1", "corpus_split": "val"}, {"speaker": "b", "key": "2", "corpus_split": "train"}]
    assign_splits(corpus, 0.0)
    assert [e["split"] for e in corpus] == ["val", "train"]


def _cut(source: Path, target: Path, frames: int, *, blank: bool = False) -> Path:
    """The first `frames` frames of `source` with their sound, as H.264 + AAC: a short real clip for
    a corpus. blank: a flat grey picture instead of the source's (a clip with sound and no face)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        src, src_audio = inp.streams.video[0], inp.streams.audio[0]
        assert src.average_rate is not None
        rate = Fraction(src.average_rate)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = src.width, src.height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "16"}
        sound = out.add_stream("aac", rate=src_audio.rate, layout=src_audio.layout.name)
        for count, frame in enumerate(inp.decode(src)):
            if count == frames:
                break
            rgb = np.full((src.height, src.width, 3), 128, np.uint8) if blank else frame.to_ndarray(format="rgb24")
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
        inp.seek(0)
        for piece in inp.decode(src_audio):
            if piece.time is not None and piece.time >= frames / rate:
                break
            piece.pts = None
            out.mux(sound.encode(piece))
        out.mux(sound.encode())
    return target


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A studio folder: three speakers (20 frames each of three shared clips) and a faceless take."""
    root = tmp_path_factory.mktemp("corpus") / "studio"
    for speaker, name in (("bob", "hdtf_wda_bobmenendez_512.mp4"), ("katie", "hdtf_wda_katiehill_512.mp4"),
                          ("glasses", "retalking_face5_woman_glasses_eu.mp4")):
        _cut(media_path("video", name), root / speaker / "take1.mp4", 20)
    _cut(media_path("video", "voxceleb2_00104_man_tv_224.mp4"), root / "slate" / "card.mp4", 20, blank=True)
    return root


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The corpus built by one worker, and the seconds it took."""
    out = tmp_path_factory.mktemp("built") / "one"
    began = time.perf_counter()
    build_dataset([corpus], out, crop_size=64, workers=1)
    return out, time.perf_counter() - began


def _members(folder: Path) -> dict[str, str]:
    """Each clip's key → its member's hash (what a build's content is, whatever the shard layout)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return {v["key"]: v["member_sha256"] for v in manifest["videos"]}


@pytest.mark.media
def test_two_workers_build_the_same_dataset_as_one_and_faceless_clips_are_rejected(
        corpus: Path, built: tuple[Path, float], tmp_path: Path) -> None:
    one, one_s = built
    began = time.perf_counter()
    two = build_dataset([corpus], tmp_path / "two", crop_size=64, workers=2)
    print(f"built 4 clips of 20 frames: 1 worker {one_s:.1f} s, 2 workers {time.perf_counter() - began:.1f} s")
    assert two.layouts == {str(corpus): "folder"} and len(two.built) == 3
    assert _members(one) == _members(tmp_path / "two") and len(_members(one)) == 3
    assert json.loads((one / "manifest.json").read_text())["data_hash"] == two.manifest["data_hash"]
    assert rejection_summary(two.rejected) == "1 no face"
    for folder in (one, tmp_path / "two"):
        rejected = json.loads((folder / "rejected.json").read_text())
        assert [(Path(r["path"]).name, r["kind"]) for r in rejected] == [("card.mp4", "no face")]
        assert "usable face in only 0 of 20" in rejected[0]["reason"]
        shards = sorted((folder / "shards").glob("shard-*.tar"))
        assert [s.name for s in shards] == ["shard-000000.tar"]
        with tarfile.open(shards[0]) as tar:  # a plain sequential tar reader sees the clips
            members = tar.getmembers()
            assert len(members) == 3 and all(m.name.endswith(".npz") for m in members)
            with np.load(tar.extractfile(members[0]), allow_pickle=False) as arrays:  # type: ignore[arg-type]
                assert arrays["crops"].shape == (20, 64, 64, 3)
    manifest = json.loads((one / "manifest.json").read_text())
    assert manifest["version"] == 2
    speakers = {v["speaker"]: v["split"] for v in manifest["videos"]}
    assert set(speakers) == {"bob", "katie", "glasses"} and "val" in speakers.values() and "train" in speakers.values()
    train, val = Dataset(one, split="train"), Dataset(one, split="val")
    assert not train.speakers() & val.speakers() and len(train) + len(val) == 3
    assert train.has_split("val") and train.split_sizes() == {"train": len(train), "val": len(val)}
    clip = train.clip(0)
    assert clip.crops.shape[1:] == (64, 64, 3) and clip.found.all() and clip.num_frames == 20

    again = build_dataset([corpus], one, crop_size=64, workers=2)
    assert again.built == [] and again.rejected == [] and len(again.skipped) == 4


@pytest.mark.media
def test_an_interrupted_build_resumes_and_a_torn_member_is_cut_off(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    calls: list[int] = []

    def after_first_clip() -> bool:
        return len(calls) >= 2  # the progress call before any clip, and the one after the first

    with pytest.raises(JobCancelledError, match="run the same command again"):
        build_dataset([corpus], out, crop_size=64, workers=1,
                      progress=lambda done, total, what: calls.append(done), is_cancelled=after_first_clip)
    first = json.loads((out / "manifest.json").read_text())
    assert len(first["videos"]) + len(json.loads((out / "rejected.json").read_text())) == 1
    shard = out / "shards" / "shard-000000.tar"
    with open(shard, "ab") as file:  # a member half written when the power went
        file.write(b"\x42" * 3000)
    (out / "shards" / "shard-000001.tar").write_bytes(b"\x42" * 700)  # a shard begun after the index was saved
    done = build_dataset([corpus], out, crop_size=64, workers=1)
    assert len(done.skipped) == 1 and len(done.built) + len(done.rejected) == 3
    dataset = Dataset(out)
    assert len(dataset) == 3
    for i in range(3):
        assert dataset.clip(i).found.sum() == 20
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["shard-000000.tar"]
    with tarfile.open(shard) as tar:
        assert len(tar.getnames()) == 3


@pytest.mark.media
def test_a_rewritten_member_leaves_no_old_copy_in_the_shards(built: tuple[Path, float], tmp_path: Path) -> None:
    """What `ensure_phones` does to a clip it rewrites: a fresh shard, the index repointed, the stale
    shard compacted away, so a sequential reader streams each clip once."""
    folder = tmp_path / "data"
    shutil.copytree(built[0], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    entries, shards = manifest["videos"], folder / "shards"
    before = [Dataset(folder).clip(i).points for i in range(3)]
    writer = TarShardWriter(shards, shard_ends(entries), fresh=True)
    payload = (shards / entries[0]["shard"]).read_bytes()[entries[0]["offset"]:][:entries[0]["size"]]
    shard, offset, size = writer.append(member_key(entries[0]), payload)
    writer.close()
    entries[0].update(shard=shard, offset=offset, size=size)
    assert shard == "shard-000001.tar" and stale_shards(shards, entries) == {"shard-000000.tar"}
    compact(shards, entries, {"shard-000000.tar"})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    remove_unindexed(shards, entries)
    names = []
    for path in sorted(shards.iterdir()):
        with tarfile.open(path) as tar:
            names += tar.getnames()
    assert sorted(names) == sorted(f"{member_key(e)}.npz" for e in entries) and not stale_shards(shards, entries)
    after = Dataset(folder)
    for i in range(3):
        np.testing.assert_array_equal(after.clip(i).points, before[i])


@pytest.mark.media
def test_a_version_1_dataset_still_loads_and_a_rebuild_keeps_its_clips(corpus: Path, built: tuple[Path, float],
                                                                       tmp_path: Path) -> None:
    """A dataset as version 1 wrote it (one `.npz` per clip, no speakers or splits), made from the
    clips of a version-2 build."""
    new = Dataset(built[0])
    old = tmp_path / "old"
    (old / "shards").mkdir(parents=True)
    videos = []
    for i in range(len(new)):
        entry = new.entry(i)
        name = f"{entry['sha256'][:16]}-{entry['start']}-{entry['stop']}.npz"
        np.savez_compressed(old / "shards" / name, **new.clip(i).arrays())  # type: ignore[arg-type]
        videos.append({k: entry[k] for k in ("key", "path", "sha256", "start", "stop", "frames", "frames_with_face",
                                             "fps", "has_audio")}
                      | {"shard": name, "shard_sha256": file_sha256(old / "shards" / name)})
    (old / "manifest.json").write_text(json.dumps({"format": "mytalk-dataset", "version": 1, "crop_size": 64,
                                                   "crop_box": new.manifest["crop_box"], "videos": videos}))
    loaded = Dataset(old)
    assert len(loaded) == 3 and len(Dataset(old, split="train")) == 3 and not loaded.has_split("val")
    np.testing.assert_array_equal(loaded.clip(1).crops, new.clip(1).crops)
    again = build_dataset([corpus], old, crop_size=64)
    assert again.built == [] and len(again.skipped) == 3 and [Path(r["path"]).name for r in again.rejected] == \
        ["card.mp4"]
    assert Dataset(old).clip(0).num_frames == 20


@pytest.mark.media
def test_a_built_hdtf_corpus_trains_with_its_validation_speaker(tmp_path: Path) -> None:
    from mytalk.core.engines.mytalk.train import train_command

    hdtf = tmp_path / "HDTF"
    hdtf.mkdir()
    for name, source in (("WDA_BobMenendez", "hdtf_wda_bobmenendez_512.mp4"),
                         ("WDA_KatieHill", "hdtf_wda_katiehill_512.mp4")):
        (hdtf / f"{name}.mp4").symlink_to(media_path("video", source))
    _touch(hdtf / "WDA_annotion_time.txt", "BobMenendez.mp4 00:00-00:02\nKatieHill.mp4 00:01-00:03\n")
    began = time.perf_counter()
    result = build_dataset([hdtf], tmp_path / "data", crop_size=64, workers=1)
    built_s = time.perf_counter() - began
    assert result.layouts == {str(hdtf): "hdtf"}
    clips = result.manifest["videos"]
    assert sorted((v["speaker"], v["start"], v["stop"]) for v in clips) == [
        ("WDA_BobMenendez", 0, 50), ("WDA_KatieHill", 25, 75)]
    assert sorted(v["split"] for v in clips) == ["train", "val"] and all(v["has_audio"] for v in clips)
    began = time.perf_counter()
    trained = train_command("motion", tmp_path / "data", "tiny", out="hdtf", device="cpu", steps=10)
    print(f"HDTF: built 2 clips of 50 frames in {built_s:.1f} s, trained 10 steps in {time.perf_counter() - began:.1f} s")
    records = [json.loads(line) for line in (trained.run_dir / "log.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 10 and np.isfinite(trained.last_eval["reconstruction"])
