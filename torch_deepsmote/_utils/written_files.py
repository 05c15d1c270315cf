"""The files ``deepsmote generate`` writes, and only those: the manifest that marks its
output folder and lists its files, and removal that never touches anything unlisted."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["MANIFEST", "foreign_files", "listed_files", "remove_written"]

MANIFEST = ".deepsmote-generate.json"
"""The file that marks a folder written by ``deepsmote generate`` and lists its files:
``--overwrite`` replaces only such a folder, and deletes only the files it lists."""


def _walk(folder: Path) -> tuple[set[str], list[str]]:
    """(relative paths of the regular files under ``folder``, relative paths of anything else:
    links, devices, ...), without following links."""
    files, others = set(), []
    for directory, subfolders, names in os.walk(folder):
        here = Path(directory)
        for name in subfolders:
            if (here / name).is_symlink():
                others.append((here / name).relative_to(folder).as_posix())
        for name in names:
            path = here / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink() or not path.is_file():
                others.append(relative)
            else:
                files.add(relative)
    return files, others


def listed_files(folder: Path) -> list[str] | None:
    """The files that ``folder``'s manifest says generate wrote (the manifest too); ``None``
    without a readable manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        listed = manifest["files"]
        if manifest.get("written_by") != "deepsmote generate" or not all(isinstance(f, str) for f in listed):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return [*listed, MANIFEST]


def foreign_files(folder: Path) -> list[str] | None:
    """The entries under ``folder`` that generate did not write; ``None`` without a manifest."""
    listed = listed_files(folder)
    if listed is None:
        return None
    files, others = _walk(folder)
    return sorted(files - set(listed)) + sorted(others)


def remove_written(folder: Path, written: list[str] | None) -> None:
    """Delete the regular files of ``written`` found under ``folder``, then the folders left
    empty: never a file that is not listed, never anything outside ``folder``."""
    files, _ = _walk(folder) if folder.is_dir() else (set(), [])
    for relative in files & set(written or ()):
        (folder / relative).unlink()
    for directory, _, _ in os.walk(folder, topdown=False):
        try:
            os.rmdir(directory)
        except OSError:  # not empty: it holds something generate did not write
            pass
