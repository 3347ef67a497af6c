# The safetensors writer shared by the fixture generators (make_fixtures*.py and
# training/make_*_fixtures.py): Debian has no `safetensors` package, so the layout is
# written here: u64 little-endian header size, JSON header, raw little-endian data.
import json
import struct

import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata, sort_keys=True):
    """Tensors in sorted name order, contiguous from offset 0; the header padded with spaces
    to a multiple of 8. `sort_keys` orders the JSON keys (so "__metadata__" comes first)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":"), sort_keys=sort_keys).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
