"""The figure of docs/hosts/blender.md: a frame Blender rendered from MyTalk's strips beside the source frame.

    python tests/blender_figure.py SESSION_FOLDER docs/hosts/blender_render_vs_source.png

SESSION_FOLDER is a folder that `tests/blender_session.py` ran in (its spec.json and frames/; keep one
with `pytest tests/test_hosts_blender.py --basetemp=DIR`). The frame shown is the one of the marked
range whose render differs most from the source, with the mouth enlarged below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np

ZOOM_BOX = (160, 96)
"""Width and height (px) of the enlarged mouth region."""


def main(folder: Path, output: Path) -> int:
    spec = json.loads((folder / "spec.json").read_text())
    with av.open(spec["video"]) as container:
        source = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]

    def rendered(frame: int) -> np.ndarray:
        image = cv2.imread(str(folder / "frames" / f"frame_{frame:04d}.png"))
        if image is None:
            raise SystemExit(f"{folder}: Blender rendered no frame {frame}; run the session first")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def original(frame: int) -> np.ndarray:
        return source[frame - spec["clip_frame_start"]]

    marked = range(spec["mark_in"], spec["mark_out_inclusive"] + 1)
    best = max(marked, key=lambda n: int(np.abs(rendered(n).astype(int) - original(n).astype(int)).sum()))
    fixed, shot = rendered(best), original(best)
    changed = np.abs(fixed.astype(int) - shot.astype(int)).max(axis=2) > 8
    ys, xs = np.nonzero(changed)
    width, height = ZOOM_BOX
    size = shot.shape[1]
    # The changed pixels reach down to the chin; the box is centred a little above their median, on the lips.
    y0 = int(np.clip(np.median(ys) - 28 - height // 2, 0, shot.shape[0] - height))
    x0 = int(np.clip(np.median(xs) - width // 2, 0, size - width))

    def boxed(image: np.ndarray) -> np.ndarray:
        out = image.copy()
        cv2.rectangle(out, (x0, y0), (x0 + width - 1, y0 + height - 1), (255, 200, 0), 2)
        return out

    def zoom(image: np.ndarray) -> np.ndarray:
        crop = image[y0:y0 + height, x0:x0 + width]
        return cv2.resize(crop, (size, height * size // width), interpolation=cv2.INTER_NEAREST)

    def white(rows: int, columns: int) -> np.ndarray:
        return np.full((rows, columns, 3), 255, np.uint8)

    gap = 16
    top = np.hstack([boxed(shot), white(shot.shape[0], gap), boxed(fixed)])
    bottom = np.hstack([zoom(shot), white(zoom(shot).shape[0], gap), zoom(fixed)])
    font = cv2.FONT_HERSHEY_SIMPLEX
    header, middle = white(44, top.shape[1]), white(36, top.shape[1])
    cv2.putText(header, f"Source: frame {best - spec['clip_frame_start']} of the clip (channel 2)", (8, 30), font, 0.62,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(header, f"Blender's render of scene frame {best} (MyTalk strip)", (size + gap + 8, 30), font, 0.62,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(middle, f"mouth region, {size / width:.1f}x (nearest neighbour)", (8, 25), font, 0.6, (60, 60, 60), 1,
                cv2.LINE_AA)
    figure = np.vstack([header, top, middle, bottom, white(8, top.shape[1])])
    cv2.imwrite(str(output), cv2.cvtColor(figure, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{output}: scene frame {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
