"""A minimal GGUF reader (numpy only): the key/value metadata and the F32 tensors of one file.

Why not python3-gguf: it lives in the private llama.cpp prefix, not on the system python's path, and the files
this baseline reads (eagle-make-fixture, eagle-export-shapes, both through src/export/gguf-vlm-writer.cpp) use
only the part of the format below: GGUF v3, little-endian, F32 tensors.

Tensors come back as numpy arrays in PyTorch order: ggml's ne = {d0, d1, ...} (d0 fastest) is numpy's shape
(..., d1, d0), the same bytes, so an nn.Linear weight {in, out} reads as [out, in].
"""
import struct

import numpy as np

_GGML_TYPE_F32 = 0

# value type -> (struct format, size) for the fixed-size scalar types
_SCALARS = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9


class GGUFFile:
    """metadata: dict key -> value (arrays as lists); tensors: dict name -> numpy float32 array (read-only)."""

    def __init__(self, path):
        self.path = str(path)
        with open(self.path, "rb") as f:
            data = f.read()
        self._buf = data
        self._pos = 0
        if self._take(4) != b"GGUF":
            raise ValueError(f"'{self.path}' is not a GGUF file")
        version = self._scalar(4)
        if version not in (2, 3):
            raise ValueError(f"'{self.path}': GGUF version {version} is not supported (expected 2 or 3)")
        n_tensors, n_kv = self._scalar(10), self._scalar(10)
        self.metadata = {}
        for _ in range(n_kv):
            key = self._string()
            self.metadata[key] = self._value(self._scalar(4))
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._scalar(4)
            ne = [self._scalar(10) for _ in range(n_dims)]
            ggml_type, offset = self._scalar(4), self._scalar(10)
            infos.append((name, ne, ggml_type, offset))
        alignment = int(self.metadata.get("general.alignment", 32))
        data_start = (self._pos + alignment - 1) // alignment * alignment
        self.tensors = {}
        for name, ne, ggml_type, offset in infos:
            if ggml_type != _GGML_TYPE_F32:
                raise ValueError(f"'{self.path}': tensor '{name}' has ggml type {ggml_type}; only F32 (0) is supported")
            count = int(np.prod(ne)) if ne else 1
            start = data_start + offset
            if start + 4 * count > len(data):
                raise ValueError(f"'{self.path}': tensor '{name}' runs past the end of the file")
            arr = np.frombuffer(data, dtype="<f4", count=count, offset=start)
            self.tensors[name] = arr.reshape(tuple(reversed(ne)))

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def require(self, key):
        if key not in self.metadata:
            raise KeyError(f"'{self.path}' has no metadata key '{key}'")
        return self.metadata[key]

    # --- parsing helpers -------------------------------------------------------------------------------------
    def _take(self, n):
        if self._pos + n > len(self._buf):
            raise ValueError(f"'{self.path}' is truncated at byte {self._pos}")
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def _scalar(self, vtype):
        fmt, size = _SCALARS[vtype]
        return struct.unpack(fmt, self._take(size))[0]

    def _string(self):
        return self._take(self._scalar(10)).decode("utf-8", errors="surrogateescape")

    def _value(self, vtype):
        if vtype == _STRING:
            return self._string()
        if vtype == _ARRAY:
            item_type, n = self._scalar(4), self._scalar(10)
            if item_type in _SCALARS and item_type != 7:
                fmt, size = _SCALARS[item_type]
                arr = np.frombuffer(self._take(size * n), dtype=np.dtype(fmt))
                return arr.tolist()
            return [self._value(item_type) for _ in range(n)]
        if vtype not in _SCALARS:
            raise ValueError(f"'{self.path}': unknown GGUF value type {vtype} at byte {self._pos}")
        return self._scalar(vtype)
