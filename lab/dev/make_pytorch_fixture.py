"""Writes model-pull/testdata/tiny_pytorch_model.bin: a two-tensor state dict in
PyTorch's zip format (torch >= 1.6), without torch, for the test of
`carechat models pull`'s pytorch_model.bin conversion (model-pull/src/hub.rs).

    python3 lab/dev/make_pytorch_fixture.py model-pull/testdata/tiny_pytorch_model.bin

The pickle names torch's classes as torch.save does (torch._utils._rebuild_tensor_v2,
torch.FloatStorage); stand-in modules take their place, so nothing of torch runs.
Tensor k holds 0.5 * (k + 1) + 0.25 * i at flat index i.
"""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


class FloatStorage:
    pass


FloatStorage.__module__ = "torch"
torch.FloatStorage = FloatStorage


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, key, values):
        self.key, self.values = key, values


class Tensor:
    def __init__(self, storage, size):
        self.storage, self.size = storage, size

    def __reduce__(self):
        strides, acc = [], 1
        for d in reversed(self.size):
            strides.append(acc)
            acc *= d
        args = (self.storage, 0, tuple(self.size), tuple(reversed(strides)), False,
                collections.OrderedDict())
        return (_rebuild_tensor_v2, args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", len(obj.values))
        return None


tensors = collections.OrderedDict()
storages = []
for k, (name, size) in enumerate([("model.encoder.weight", (2, 3)), ("final_logits_bias", (1, 4))]):
    n = 1
    for d in size:
        n *= d
    storage = Storage(str(k), [0.5 * (k + 1) + 0.25 * i for i in range(n)])
    storages.append(storage)
    tensors[name] = Tensor(storage, size)
data = io.BytesIO()
Pickler(data, protocol=2).dump(tensors)
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", data.getvalue())
    z.writestr("archive/version", "3\n")
    for s in storages:
        z.writestr(f"archive/data/{s.key}", struct.pack(f"<{len(s.values)}f", *s.values))
