"""Compositing: feathered masks, colour match, blending, and pixel-format-exact write-back.

Everything outside a frame's mask stays bit-identical to the decoded source; see `compositor`.
"""

from mytalk.core.composite.blend import (
    alpha_blend,
    alpha_delta,
    default_levels,
    laplacian_blend,
    laplacian_delta,
)
from mytalk.core.composite.color import match_color, ring_weights
from mytalk.core.composite.compositor import (
    BLEND_METHODS,
    QUALITY_BLEND,
    CompositeResult,
    Compositor,
)
from mytalk.core.composite.masks import (
    FEATHER_PER_IOD,
    MOUTH_MARGIN,
    Mask,
    MaskMode,
    MaskStabiliser,
    edit_mask,
    edit_region,
    mouth_mask,
)
from mytalk.core.composite.planes import (
    SUPPORTED_FORMATS,
    ColorMatrix,
    PixelLayout,
    align_box,
    color_matrix,
    copy_frame,
    frame_layout,
    is_chroma_aligned,
    pixel_layout,
    plane_arrays,
    read_rgb,
    write_rgb,
    write_rgb_delta,
)

__all__ = [
    "BLEND_METHODS",
    "FEATHER_PER_IOD",
    "MOUTH_MARGIN",
    "QUALITY_BLEND",
    "SUPPORTED_FORMATS",
    "ColorMatrix",
    "CompositeResult",
    "Compositor",
    "Mask",
    "MaskMode",
    "MaskStabiliser",
    "PixelLayout",
    "align_box",
    "alpha_blend",
    "alpha_delta",
    "color_matrix",
    "copy_frame",
    "default_levels",
    "edit_mask",
    "edit_region",
    "frame_layout",
    "is_chroma_aligned",
    "laplacian_blend",
    "laplacian_delta",
    "mouth_mask",
    "match_color",
    "pixel_layout",
    "plane_arrays",
    "read_rgb",
    "ring_weights",
    "write_rgb",
    "write_rgb_delta",
]
