"""Helpers the scripts share: logging, file hashes, atomic writes and an
onnxruntime session. I/O only: no reference generator takes its maths from here
(each keeps its own, independent of the Rust code and of the other scripts).

Scripts import it from their own folder (`python scripts/NAME.py` puts scripts/ on
sys.path). The converters whose own sha256 stamps their outputs
(prepare_models.py, gguf_to_onnx.py) keep their copies: editing them would make
`make setup` convert the models again.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from typing import Callable


def logger(name: str) -> Callable[[str], None]:
    """A `log(msg)` writing `[name] msg` to stderr."""

    def log(msg: str) -> None:
        print(f"[{name}] {msg}", file=sys.stderr, flush=True)

    return log


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Writes `path` through a temp file in its folder, fsynced, then renamed."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())


def ort_session(path: str, threads: int = 2):
    """A CPU onnxruntime session: `threads` intra-op threads, one inter-op, quiet,
    every graph optimisation (onnxruntime's default level)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
