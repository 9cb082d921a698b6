"""The race's animated GIF writer: frames in order, bounded, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.export.gif import MAX_FRAMES, write_gif


def _frames(n: int, size: tuple[int, int] = (20, 30)) -> list[np.ndarray]:
    frames = []
    for k in range(n):
        f = np.zeros((*size, 3), dtype=np.uint8)
        f[:, : k + 1] = (255, 0, 0)  # a red bar growing frame by frame
        frames.append(f)
    return frames


def test_frames_are_written_in_order_and_the_last_is_held(tmp_path: Path) -> None:
    path = write_gif(_frames(5), tmp_path / "race.gif", frame_ms=50, hold_ms=900)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.size == (30, 20)
        widths = []
        for k in range(5):
            gif.seek(k)
            red = np.asarray(gif.convert("RGB"))[0, :, 0] > 128
            widths.append(int(red.sum()))
        assert widths == [1, 2, 3, 4, 5]
        assert gif.info["duration"] == 900  # the frame read last: the held one
    assert [p.name for p in tmp_path.iterdir()] == ["race.gif"]  # no temporary file left


@pytest.mark.parametrize("frames,message", [
    ([], "at least one frame"),
    (_frames(MAX_FRAMES + 1, (2, 2)), "at most"),
    (_frames(2) + _frames(1, (10, 10)), "same size"),
    ([np.zeros((4, 4), dtype=np.uint8)], "RGB"),
    ([np.zeros((3000, 3000, 3), dtype=np.uint8)], "pixels"),
])
def test_bad_frames_are_refused_and_nothing_is_written(tmp_path: Path, frames: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_gif(frames, tmp_path / "bad.gif")
    assert not any(tmp_path.iterdir())
