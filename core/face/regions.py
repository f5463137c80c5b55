"""Named index sets of the 478-point MediaPipe face mesh (refined, with irises).

Ordered tuples are closed loops that can be drawn as polygons. The numbers are facts about
MediaPipe's published mesh topology; `tests/test_face_regions.py` checks them against the
connection sets that mediapipe ships, so a topology change cannot slip by unnoticed.
Subject-relative: "right" is the subject's right (image left in a frontal shot).
"""

from __future__ import annotations

NUM_LANDMARKS = 478

LIPS_OUTER: tuple[int, ...] = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)
"""Outer lip contour, starting at the subject's right mouth corner (61), lower lip first."""

LIPS_INNER: tuple[int, ...] = (
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
)
"""Inner lip contour (the mouth opening), starting at the right inner corner (78)."""

LIPS: tuple[int, ...] = tuple(sorted(set(LIPS_OUTER) | set(LIPS_INNER)))
"""All 40 lip points: the speech-driven part compared by the evaluation."""

FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
"""Face outline from the forehead (10) clockwise in the image; 152 is the chin tip."""

JAW: tuple[int, ...] = (
    234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454,
)
"""Lower half of the face outline, ear to ear through the chin: moves with the mouth."""

UPPER_LIP_MID = 13
LOWER_LIP_MID = 14
MOUTH_CORNER_RIGHT = 61
MOUTH_CORNER_LEFT = 291
CHIN = 152
NOSE_TIP = 1
NOSE_BRIDGE: tuple[int, ...] = (168, 6, 197, 195)
RIGHT_EYE_OUTER = 33
RIGHT_EYE_INNER = 133
LEFT_EYE_OUTER = 263
LEFT_EYE_INNER = 362
RIGHT_IRIS_CENTER = 468
LEFT_IRIS_CENTER = 473

STABLE: tuple[int, ...] = (
    RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER, *NOSE_BRIDGE,
)
"""Points that speech does not move (eye corners, nose bridge): the anchor for pose and scale."""

# --- Lower-face mask (used by mytalk.core.composite.masks) ---------------------------------------

SUBNASALE = 2
"""Where the nose meets the upper lip: the lower-face and mouth masks fade out above the line through it."""

LOWER_FACE_JAW: tuple[int, ...] = JAW[2:-2]
"""Jaw line of the lower-face mask, from the subject's right cheek at nose-base height (132) through the
chin (152) to the left cheek (361): the part of the outline that moves when the mouth opens."""

LOWER_FACE_TOP: tuple[int, ...] = (411, 426, 391, 393, 164, 167, 165, 206, 187)
"""Closing line of the lower-face polygon, subject's left cheek (411, beside the nostril) across the
upper lip just under the nose (393, 164, 167) to the right cheek (187); with `LOWER_FACE_JAW` it forms
a closed loop. These points sit at or below the nose base in frontal and moderately turned faces."""

EDIT_REGION_NOSE_BASE: tuple[int, ...] = (98, 2, 327)
"""Nose base (the nostrils' outer edges and the subnasale): the top of the edit region under the nose."""

EDIT_REGION_POINTS: tuple[int, ...] = (*JAW, *EDIT_REGION_NOSE_BASE, *LIPS_OUTER)
"""The lower face an engine may ever change (`mytalk.core.composite.masks.edit_region`): the convex hull of
the jaw from cheek to cheek below the eyes (234 ... chin 152 ... 454), the nose base and the outer lips,
grown by `EDIT_REGION_MARGIN` × the face width (the distance 234 ↔ 454)."""

EDIT_REGION_MARGIN = 0.10
"""Growth of the edit region's hull, as a fraction of the face width: room for a jaw that opens further
than the shot's, at any face size (224 px as at 4K)."""

FACE_WIDTH_POINTS: tuple[int, int] = (234, 454)
"""The face sides at ear level: their distance is the face width the edit region scales with."""

POSE: tuple[int, ...] = (
    *STABLE, 1, 4, 5, 9, 10, 151, 127, 356, 234, 454, 116, 345, 98, 327,
)
"""Rigid points for head pose: `STABLE`, the nose and forehead midline, cheekbones, face sides at
ear level. None of them moves with speech or with the jaw."""

MIRROR_PAIRS: tuple[tuple[int, int], ...] = (
    (RIGHT_EYE_OUTER, LEFT_EYE_OUTER), (RIGHT_EYE_INNER, LEFT_EYE_INNER), (127, 356), (234, 454),
    (116, 345), (98, 327), (MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT), (RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER),
)
"""(subject's right, subject's left) point pairs that mirror each other across the face midline."""
