"""Files written atomically and read back verified: the format of every file the package saves.

A file is a ``torch.save`` *envelope*::

    {"format": 6, "fingerprint": <64 hex>, "sha256": <64 hex>, "payload_bytes": uint8 tensor}

where ``payload_bytes`` is the ``torch.save`` serialisation of the payload and
``sha256`` its digest. Reading checks, in order: the file loads with
``torch.load(..., weights_only=True)`` (so a file cannot run code: a pickle with a
malicious ``__reduce__`` is refused), the format and fingerprint are the expected
ones, the payload's digest matches (a truncated or bit-flipped file is caught even
where the zip container would not notice), and the payload itself loads with
``weights_only=True``. A file failing any check is reported in a warning and ignored.

Files are written to a temporary file in the same folder, flushed, ``fsync``-ed and
renamed into place with ``os.replace`` (:func:`atomic_save`), so a crash never leaves
a half-written file under the real name. The cache entries of
:mod:`torch_deepsmote.data.cache` and the training checkpoints of
:mod:`torch_deepsmote.nn.checkpoint` are such envelopes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch

from torch_deepsmote._utils.warn import warn

__all__ = [
    "FORMAT_VERSION",
    "atomic_save",
    "fingerprint",
    "read_envelope",
    "tensor_digest",
    "update_tensor_digest",
    "write_envelope",
]

FORMAT_VERSION = 6


def fingerprint(images: Any, labels: torch.Tensor, config: dict[str, Any]) -> str:
    """SHA-256 hex digest of the images' bytes, the labels and a JSON-able ``config``.

    Args:
        images: (N, C, H, W) training images (any dtype), or an image source
            (:mod:`torch_deepsmote.nn.sources`), which gives the digest of its images' tensor.
        labels: (N,) labels.
        config: every option that changes the model, JSON-serialisable.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": FORMAT_VERSION, **config}, sort_keys=True).encode())
    if isinstance(images, torch.Tensor):
        update_tensor_digest(digest, images)
    else:
        images.update_digest(digest)
    update_tensor_digest(digest, labels)
    return digest.hexdigest()


def update_tensor_digest(digest: Any, tensor: torch.Tensor) -> None:
    """Feed ``digest`` a tensor's dtype and shape, then its bytes (which may as well be fed a
    batch of rows at a time, in order)."""
    contiguous = tensor.detach().cpu().contiguous()
    digest.update(f"{contiguous.dtype}{tuple(contiguous.shape)}".encode())
    digest.update(contiguous.view(torch.uint8).numpy().tobytes())


def tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 hex digest of named tensors (their names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        flat = tensor.detach().cpu().reshape(-1).contiguous()
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    On any failure (including ``KeyboardInterrupt``) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".deepsmote-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_envelope(path: str | os.PathLike, key: str, payload: Any) -> Path:
    """Write ``payload`` with its fingerprint ``key`` and SHA-256 checksum to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    envelope = {
        "format": FORMAT_VERSION,
        "fingerprint": key,
        "sha256": hashlib.sha256(data).hexdigest(),
        "payload_bytes": torch.frombuffer(bytearray(data), dtype=torch.uint8),
    }
    return atomic_save(envelope, path)


def read_envelope(path: str | os.PathLike, key: str, what: str = "cache file") -> Any | None:
    """The payload stored in ``path`` under fingerprint ``key``; ``None`` (with a warning) if unusable.

    Returns ``None`` silently when ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        envelope = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated, corrupt or hostile file
        return _ignore(f"Ignoring the unreadable {what} {path} ({type(error).__name__}: {error})")
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_VERSION:
        return _ignore(f"Ignoring the {what} {path}: it is not a torch_deepsmote format-{FORMAT_VERSION} file")
    if envelope.get("fingerprint") != key:
        return _ignore(f"Ignoring the {what} {path}: it belongs to other data or options")
    data = envelope.get("payload_bytes")
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.ndim != 1:
        return _ignore(f"Ignoring the {what} {path}: it holds no payload")
    raw = data.numpy().tobytes()
    if hashlib.sha256(raw).hexdigest() != envelope.get("sha256"):
        return _ignore(f"Ignoring the {what} {path}: its checksum does not match (corrupt file)")
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as error:
        return _ignore(f"Ignoring the {what} {path}: its payload is unreadable ({type(error).__name__}: {error})")


def _ignore(message: str) -> None:
    warn(f"{message}; training anew.")
    return None
