#!/usr/bin/env python3
"""Write a copy of a GGUF file with every tensor as F32 (quantised blocks dequantised by the
`gguf` package's own dequantisers, F16/BF16 widened), metadata unchanged but for file_type.

  gguf_dequantise.py IN.gguf OUT.gguf

For `make check-llama-cpp`: llama.cpp on the F32 copy multiplies in float (no Q8 activations),
so lexalign against it shows how much of the gap on the quantised file is llama.cpp's
activation quantisation and how much is a real difference. A reference tool, not a converter:
it shares nothing with scripts/gguf_to_onnx.py.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lexalign_common import logger  # noqa: E402

log = logger("gguf_dequantise")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    import gguf
    from gguf import quants

    src, dst = sys.argv[1], sys.argv[2]
    reader = gguf.GGUFReader(src)
    arch = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")
    tmp = dst + ".tmp"
    writer = gguf.GGUFWriter(tmp, arch)
    for field in reader.fields.values():
        # the writer adds the architecture and GGUF.* itself
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType.ALL_F32)
        writer.add_key_value(field.name, value, vtype, sub_type=sub)
    arrays = []
    for t in reader.tensors:
        a = quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        arrays.append((t.name, a.reshape([int(x) for x in reversed(t.shape)])))
    for name, a in arrays:
        writer.add_tensor_info(name, a.shape, a.dtype, a.nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, a in arrays:
        writer.write_tensor_data(a)
    writer.close()
    os.replace(tmp, dst)
    log(f"wrote {dst}: {len(arrays)} tensors as F32 ({os.path.getsize(dst) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
