"""``image_folder``: labelled images from a folder with one sub-folder per class.

``folder/cat/1.png``, ``folder/dog/a.jpg``, … become images of the class named by their
sub-folder (classes in sorted order), resized to ``size``×``size`` and read as grey (1 channel)
or RGB (3). Pillow decodes them: PNG and JPEG decoding is a job a well-kept library does far
better (and safer) than hand-written code.

Bounded like every reader (``engine/safe_io``): at most ``MAX_FILES`` images and ``MAX_TOTAL_BYTES``
in all, each file a regular file of at most ``MAX_FILE_BYTES``, opened through
``open_regular``. The pixel count is checked from the header, before decoding, against
``MAX_PIXELS`` (a small PNG can claim a gigapixel: a decompression bomb). A file that cannot be
used is named by its path; every such problem is listed, and nothing is trained on a partial set.
Files with other extensions (and hidden files) are ignored; symbolic links are not followed out
of the folder.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from engine.data.dataset import DataError, format_problems, register_source
from engine.safe_io import MAX_PROBLEMS, FileRefused, read_capped

MAX_FILES = 20_000
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
MAX_PIXELS = 25_000_000  # per image, from its header, before decoding (about 5000 × 5000)
MAX_CLASSES = 100
EXTENSIONS = (".png", ".jpg", ".jpeg")
FORMATS = ("PNG", "JPEG")


@register_source(
    "image_folder",
    task="multiclass",
    kind="image_folder",
    description="Your own images: a folder with one sub-folder of PNG/JPEG files per class.",
)
def load_image_folder(
    folder: Path, display: str, size: int, channels: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images (n, channels, size, size) float64 in [0, 1], labels (n,) int64 and class names."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        raise DataError("reading image folders needs Pillow (pip install pillow)") from None
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"the image folder {display} does not exist or is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"the image folder {display} needs at least two sub-folders, one per class "
                        f"(it has {len(classes)})")
    if len(classes) > MAX_CLASSES:
        raise DataError(f"the image folder {display} has {len(classes)} class folders; at most "
                        f"{MAX_CLASSES} are allowed")
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        for p in sorted((root / name).iterdir()):
            if p.suffix.lower() in EXTENSIONS and not p.name.startswith("."):
                files.append((p, label))
                if len(files) > MAX_FILES:
                    raise DataError(f"the image folder {display} holds more than {MAX_FILES:,} images; "
                                    f"at most {MAX_FILES:,} are read")
    empty = [name for label, name in enumerate(classes) if not any(lb == label for _, lb in files)]
    if empty:
        raise DataError(f"the image folder {display} has class folders without PNG/JPEG images: "
                        f"{', '.join(empty)}")

    mode = "L" if channels == 1 else "RGB"
    images = np.empty((len(files), channels, size, size), dtype=np.float64)
    problems: list[str] = []
    total = 0
    real_root = root.resolve()
    for i, (path, _) in enumerate(files):
        shown = str(path.relative_to(root))
        try:
            if not path.resolve().is_relative_to(real_root):
                raise _Bad("is a link that leads outside the image folder")
            raw = read_capped(path, MAX_FILE_BYTES, "image")
            total += len(raw)
            if total > MAX_TOTAL_BYTES:
                raise DataError(f"the images in {display} add up to more than "
                                f"{MAX_TOTAL_BYTES // 2**20} MB; at most that much is read")
            images[i] = _decode(Image, raw, mode, size)
        except FileRefused as exc:
            problems.append(f"{shown}: {exc.reason}")
        except _Bad as exc:
            problems.append(f"{shown}: {exc}")
        if len(problems) > MAX_PROBLEMS:
            break
    if problems:
        raise DataError(
            f"{len(problems)} image(s) in {display} cannot be used:\n" + format_problems(problems),
            problems,
        )
    labels = np.array([label for _, label in files], dtype=np.int64)
    return images, labels, tuple(classes)


class _Bad(ValueError):
    """One image that cannot be used; the message says why (without the path)."""


def _decode(image_module: object, raw: bytes, mode: str, size: int) -> np.ndarray:
    Image = image_module  # PIL's module, imported lazily by the caller
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # type: ignore[attr-defined]
            with Image.open(io.BytesIO(raw), formats=FORMATS) as im:  # type: ignore[attr-defined]
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise _Bad(f"is {w}×{h} pixels; at most {MAX_PIXELS:,} per image are decoded")
                im = im.convert(mode).resize((size, size), Image.Resampling.BILINEAR)  # type: ignore[attr-defined]
                arr = np.asarray(im, dtype=np.float64) / 255.0
    except _Bad:
        raise
    except Exception as exc:  # Pillow raises many kinds (UnidentifiedImageError, OSError, …)
        raise _Bad(f"is not a readable PNG or JPEG image ({type(exc).__name__}: {exc})") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

