"""Helpers the scripts share: logging, file hashes, atomic writes and an
onnxruntime session. I/O only: no reference generator takes its maths from here
(each keeps its own, independent of the Rust code and of the other scripts).

Scripts import it from their own folder (`python scripts/NAME.py` puts scripts/ on
sys.path). The model converters (prepare_models.py, gguf_to_onnx.py, hf_to_onnx.py)
stamp this file's sha256 into their outputs, so editing it makes `make setup` convert
the models again (their bytes stay the same unless a converter's maths changed).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import shutil
import tempfile
import time
from typing import Callable

TMP_SUFFIX = ".tmp-xxxxxxxx"  # what tempfile.mkdtemp adds to an output folder's name


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


# A converted model folder: OUT/.prepared.json records the inputs' digest and each output's
# size and mtime, so an unchanged import is skipped without hashing gigabytes again.
STAMP = ".prepared.json"


def check_folder_name(out: str, refuse: Callable[[str], Exception]) -> str:
    """`out`'s parent folder, after checking that `out` plus a temp suffix fits a file name there."""
    parent = os.path.dirname(out)
    name_max = os.pathconf(parent, "PC_NAME_MAX") if os.path.isdir(parent) else 255
    if len(os.path.basename(out).encode()) + len(TMP_SUFFIX) > name_max:
        raise refuse(f"{os.path.basename(out)!r} is too long for a folder name here (at most "
                     f"{name_max - len(TMP_SUFFIX)} bytes, leaving room for the temporary suffix)")
    return parent


def folder_up_to_date(out: str, dg: dict) -> bool:
    """Whether OUT's stamp has `dg`'s format, inputs and args and every output is unchanged."""
    try:
        with open(os.path.join(out, STAMP)) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return False
    if any(st.get(k) != dg[k] for k in ("format", "inputs", "args")):
        return False
    for n, e in st.get("outputs", {}).items():
        p = os.path.join(out, n)
        if not os.path.isfile(p) or os.path.getsize(p) != e["bytes"] or os.stat(p).st_mtime_ns != e["mtime_ns"]:
            return False
    return bool(st.get("outputs"))


def publish_folder(tmp: str, out: str, names: list[str], dg: dict, t0: float) -> None:
    """Stamps the finished temp folder `tmp` and puts it at `out` by renames: readers see the
    old folder or the new one, never a mix (the old one is moved aside, then removed)."""
    st = dict(dg)
    st["outputs"] = {}
    for n in names:
        s = os.stat(os.path.join(tmp, n))
        st["outputs"][n] = {"bytes": s.st_size, "mtime_ns": s.st_mtime_ns}
    st["seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(tmp, STAMP), "w") as f:
        json.dump(st, f, indent=2)
    for n in os.listdir(tmp):
        os.chmod(os.path.join(tmp, n), 0o644)
    os.chmod(tmp, 0o755)
    parent = os.path.dirname(out)
    old = None
    if os.path.exists(out):
        old = tempfile.mkdtemp(prefix=os.path.basename(out) + ".old-", dir=parent)
        os.rename(out, os.path.join(old, "x"))
    os.rename(tmp, out)
    if old:
        shutil.rmtree(old)


def run_converter(main: Callable[[], int], prefix: str, refusals: tuple,
                  unexpected: Callable[[Exception], str] | None = None) -> None:
    """Runs a converter's `main` and exits: its refusals (the `refusals` exception types,
    SystemExit with a message, OSError, MemoryError) print one line starting with `prefix`
    (what `lexalign model import` shows as its error), not a traceback; with `unexpected`,
    any other exception too. LEXALIGN_DEBUG=1 re-raises, for the traceback."""
    debug = bool(os.environ.get("LEXALIGN_DEBUG"))
    try:
        sys.exit(main())
    except SystemExit as e:
        if isinstance(e.code, str):
            print(prefix + e.code, file=sys.stderr)
            sys.exit(1)
        raise
    except (*refusals, OSError, MemoryError) as e:
        if debug:
            raise
        print(prefix + (str(e) if isinstance(e, refusals) else f"{type(e).__name__}: {e}"), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(prefix + "interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        if unexpected is None or debug:
            raise
        print(prefix + unexpected(e), file=sys.stderr)
        sys.exit(1)
