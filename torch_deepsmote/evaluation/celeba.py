"""CelebA's hair-colour subset as five classes of 32×32 RGB images."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from torch_deepsmote._utils.files import atomic_save
from torch_deepsmote._utils.validation import check_bool, check_option
from torch_deepsmote.evaluation.formats import torchvision_dataset

__all__ = ["CELEBA_HAIR_ATTRIBUTES", "load_celeba"]

CELEBA_HAIR_ATTRIBUTES = ("Black_Hair", "Brown_Hair", "Blond_Hair", "Gray_Hair", "Bald")
_CELEBA_FOLDER, _CELEBA_IMAGES, _CELEBA_ATTR, _CELEBA_PARTITION = (
    "celeba",
    "img_align_celeba",
    "list_attr_celeba.txt",
    "list_eval_partition.txt",
)
_CELEBA_SPLITS = {"train": (0,), "valid": (1,), "test": (2,), "all": (0, 1, 2)}
_CELEBA_SIZE = 32
_CELEBA_CACHE_FORMAT = 1


def _find_celeba(root: Path) -> tuple[Path, Path]:
    """The folder holding CelebA's two lists, and its image folder (see :func:`load_celeba`)."""
    looked = [root, root / _CELEBA_FOLDER]
    expected = [_CELEBA_IMAGES + "/", _CELEBA_ATTR, _CELEBA_PARTITION]
    missing = {}
    for folder in looked:
        images = folder / _CELEBA_IMAGES
        if (images / _CELEBA_IMAGES).is_dir():  # the zip unpacked into a folder of its name
            images = images / _CELEBA_IMAGES
        found = [images.is_dir(), (folder / _CELEBA_ATTR).is_file()]
        found.append((folder / _CELEBA_PARTITION).is_file())
        if all(found):
            return folder, images
        if folder.is_dir():
            missing[folder] = [name for name, ok in zip(expected, found) if not ok]
    detail = "; ".join(f"{folder} lacks {names}" for folder, names in missing.items())
    raise FileNotFoundError(
        f"No CelebA files under `root` {root}. Looked in: {', '.join(map(str, looked))}. "
        f"Expected in one folder: {expected}" + (f" ({detail})." if detail else ".")
    )


def _read_celeba_lists(folder: Path, split: str) -> tuple[list[str], np.ndarray]:
    """File names of ``split`` in partition-file order, and their hair attributes (bool)."""
    attr_path, partition_path = folder / _CELEBA_ATTR, folder / _CELEBA_PARTITION
    lines = attr_path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise ValueError(f"{attr_path} is not a CelebA attribute list: no image count on line 1.")
    names = lines[1].split()
    absent = [name for name in CELEBA_HAIR_ATTRIBUTES if name not in names]
    if absent:
        raise ValueError(f"{attr_path} lacks the attribute(s) {absent} on line 2.")
    columns = [1 + names.index(name) for name in CELEBA_HAIR_ATTRIBUTES]
    hair = {}
    for number, line in enumerate(lines[2:], start=3):
        row = line.split()
        if not row:
            continue
        values = [row[c] for c in columns] if len(row) == len(names) + 1 else None
        if values is None or any(value not in ("1", "-1") for value in values):
            raise ValueError(
                f"{attr_path}, line {number}: expected a file name and {len(names)} values "
                f"of 1 or -1, got {line.strip()!r}."
            )
        hair[row[0]] = [value == "1" for value in values]
    if len(hair) != int(lines[0]):
        raise ValueError(f"{attr_path} announces {int(lines[0])} images but lists {len(hair)} different ones.")
    wanted = {str(p) for p in _CELEBA_SPLITS[split]}
    files = []
    for number, line in enumerate(partition_path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ValueError(
                f"{partition_path}, line {number}: expected 'file name' and 0, 1 or 2, got {line.strip()!r}."
            )
        if fields[1] in wanted:
            files.append(fields[0])
    unlisted = [name for name in files if name not in hair]
    if unlisted:
        raise ValueError(f"{len(unlisted)} image(s) of {partition_path} are not in {attr_path}, e.g. {unlisted[:3]}.")
    table = np.array([hair[name] for name in files], dtype=bool).reshape(-1, len(columns))
    return files, table


def _torchvision_celeba_lists(folder: Path, split: str) -> tuple[list[str], np.ndarray] | None:
    """:func:`_read_celeba_lists`'s result read by torchvision's ``CelebA``, or ``None``.

    ``None`` when ``folder`` is not named ``celeba`` or torchvision refuses its files.
    """
    if folder.name != _CELEBA_FOLDER:
        return None
    read = torchvision_dataset("CelebA", folder.parent, split=split, target_type="attr")
    if read is None:
        return None
    columns = [read.attr_names.index(name) for name in CELEBA_HAIR_ATTRIBUTES]
    return list(read.filename), read.attr[:, columns].numpy().astype(bool)


def _celeba_image(path: Path) -> np.ndarray:
    """One image as uint8 ``(3, 32, 32)``: central square crop, antialiased bilinear resize.

    torchvision's ``center_crop`` to ``min(w, h)`` (178×178 for the 178×218 aligned
    images: the usual ``CenterCrop(178)``), then its ``resize`` to 32×32, on the PIL image.
    """
    from PIL import Image
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2.functional import center_crop, resize

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except OSError as error:  # unreadable, truncated or not an image
        raise ValueError(f"{path} cannot be read as an image: {error}") from error
    square = center_crop(image, [min(image.size)] * 2)
    small = resize(square, [_CELEBA_SIZE] * 2, interpolation=InterpolationMode.BILINEAR, antialias=True)
    return np.asarray(small, dtype=np.uint8).transpose(2, 0, 1)


def _celeba_cache_key(folder: Path, split: str, paths: Sequence[Path]) -> str:
    """SHA-256 of the loader's settings, both lists' bytes and each image's size and mtime."""
    digest = hashlib.sha256()
    settings = {"format": _CELEBA_CACHE_FORMAT, "split": split, "size": _CELEBA_SIZE}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name in (_CELEBA_ATTR, _CELEBA_PARTITION):
        digest.update((folder / name).read_bytes())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_celeba_cache(path: Path, key: str, labels: torch.Tensor) -> torch.Tensor | None:
    """The cached images for ``key``, or ``None`` (with a warning if the file is unusable)."""
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated, corrupt or hostile file
        entry = error
    images = entry.get("images") if isinstance(entry, dict) else None
    if (
        isinstance(entry, dict)
        and entry.get("key") == key
        and isinstance(images, torch.Tensor)
        and images.dtype == torch.uint8
        and images.shape == (len(labels), 3, _CELEBA_SIZE, _CELEBA_SIZE)
        and isinstance(entry.get("labels"), torch.Tensor)
        and torch.equal(entry["labels"], labels)
    ):
        return images
    warnings.warn(
        f"Ignoring the unusable CelebA cache file {path}; decoding the images anew.",
        UserWarning,
        stacklevel=3,
    )
    return None


def load_celeba(
    root: str | os.PathLike,
    split: str = "train",
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load CelebA's aligned faces as 32×32 RGB images labelled by hair colour; needs Pillow.

    Reads torchvision's layout without downloading: ``img_align_celeba/`` (the JPEGs,
    also when unpacked one level deeper, ``img_align_celeba/img_align_celeba/``),
    ``list_attr_celeba.txt`` (image count; 40 attribute names; one row of 1/-1 per
    image) and ``list_eval_partition.txt`` (file name, then 0 train, 1 valid, 2 test).

    The two lists are read by torchvision's ``CelebA`` when they lie in a folder named
    ``celeba`` and its check passes: those two and its three other annotation lists
    (``identity_CelebA.txt``, ``list_bbox_celeba.txt``,
    ``list_landmarks_align_celeba.txt``) all match the official files' MD5 checksums.
    Otherwise they are read here: this reader needs only the two lists, in any folder,
    and pairs each attribute row with the partition row of the same file name, where
    torchvision pairs rows by position (the same in the official files).

    Labels follow :data:`CELEBA_HAIR_ATTRIBUTES`: 0 ``Black_Hair``, 1 ``Brown_Hair``,
    2 ``Blond_Hair``, 3 ``Gray_Hair``, 4 ``Bald``. An image is kept only when exactly
    one of these five attributes is 1; images with none or several (e.g. both bald and
    gray, or brown and blond) are dropped, so every label is unambiguous. The paper
    does not state its rule. Each kept image is cropped to its central square (178×178
    for the 178×218 aligned images), resized to 32×32 with Pillow's antialiased
    bilinear filter and converted to RGB. Images are in partition-file order.

    Decoding the tens of thousands of train JPEGs takes minutes (about 1 ms per image
    on one CPU core; a progress bar shows it). With ``cache_dir`` the result is stored
    there once (written atomically, loaded with ``weights_only=True``) and reused while
    the two lists, the kept images' sizes and modification times and this loader's
    settings are unchanged; an unusable cache file is reported and rewritten.

    Args:
        root: Folder holding the files, or its parent (torchvision's ``celeba`` sub-folder).
        split: ``"train"`` (partition 0), ``"valid"`` (1), ``"test"`` (2) or ``"all"``.
        cache_dir: Folder for the decoded images; ``None`` caches nothing.
        progress: Show a tqdm bar while decoding.

    Returns:
        ``images`` uint8 of shape ``(N, 3, 32, 32)`` and ``labels`` int64 of shape
        ``(N,)`` with values 0..4.

    Raises:
        FileNotFoundError: If a list, the image folder or a kept image is missing;
            lists where it looked.
        ValueError: If a list is malformed, the two lists disagree or an image is unreadable.
    """
    split = check_option("split", split, tuple(_CELEBA_SPLITS))
    progress = check_bool("progress", progress)
    folder, image_folder = _find_celeba(Path(root))
    lists = _torchvision_celeba_lists(folder, split)
    files, hair = lists if lists is not None else _read_celeba_lists(folder, split)
    keep = hair.sum(axis=1) == 1
    labels = torch.from_numpy(np.argmax(hair[keep], axis=1).astype(np.int64))
    paths = [image_folder / name for name, kept in zip(files, keep) if kept]
    absent = [path.name for path in paths if not path.is_file()]
    if absent:
        raise FileNotFoundError(
            f"{len(absent)} CelebA image(s) of the {split!r} split are missing from {image_folder}, e.g. {absent[:3]}."
        )
    cache_path = key = None
    if cache_dir is not None:
        key = _celeba_cache_key(folder, split, paths)
        cache_path = Path(cache_dir) / f"celeba-{split}-{_CELEBA_SIZE}x{_CELEBA_SIZE}-{key[:16]}.pt"
        cached = _read_celeba_cache(cache_path, key, labels)
        if cached is not None:
            return cached, labels
    images = np.empty((len(paths), 3, _CELEBA_SIZE, _CELEBA_SIZE), dtype=np.uint8)
    bar = tqdm(paths, desc=f"decoding CelebA {split}", leave=False, disable=not progress)
    for index, path in enumerate(bar):
        images[index] = _celeba_image(path)
    result = torch.from_numpy(images)
    if cache_path is not None:
        atomic_save({"key": key, "images": result, "labels": labels}, cache_path)
    return result, labels
