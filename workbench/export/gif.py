"""Animated GIFs (an optimizer race as it runs), written atomically with Pillow. Qt-free.

Pillow does the palette quantization and LZW compression; frames come in as RGB arrays.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from workbench.experiment.io import atomic_write_bytes

MAX_FRAMES = 400
MAX_PIXELS = 2000 * 2000


def write_gif(frames: list[np.ndarray], path: str | Path, frame_ms: int = 60, hold_ms: int = 1500) -> Path:
    """``frames``: (height, width, 3) uint8 arrays of one size. The last frame is held ``hold_ms``."""
    from PIL import Image

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    if len(frames) > MAX_FRAMES:
        raise ValueError(f"a GIF of at most {MAX_FRAMES} frames, got {len(frames)}")
    shape = frames[0].shape
    if len(shape) != 3 or shape[2] != 3 or shape[0] * shape[1] > MAX_PIXELS:
        raise ValueError(f"frames must be RGB images of at most {MAX_PIXELS:,} pixels, got shape {shape}")
    if any(f.shape != shape for f in frames):
        raise ValueError("every frame of a GIF must have the same size")
    images = [Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8), "RGB").quantize(colors=128)
              for f in frames]
    durations = [frame_ms] * (len(images) - 1) + [hold_ms]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations,
                   loop=0, optimize=False)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
