#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/). Rerun after changing a
target's input layout; the files are small on purpose (libFuzzer mutates from them)."""
import io, json, os, struct, sys
import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
corpus = os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pil_bytes(image, fmt, **kw):
    b = io.BytesIO()
    image.save(b, fmt, **kw)
    return b.getvalue()


def img_bytes(arr, fmt, **kw):
    return pil_bytes(Image.fromarray(arr), fmt, **kw)


rng = np.random.default_rng(13)
rgb = lambda h, w: rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

# fuzz-image-file: 3 bytes (D-1, grid cols-1, grid rows-1), then the file
head = bytes([63, 3, 3])
for name, arr in [("1x1", rgb(1, 1)), ("1x9", rgb(1, 9)), ("9x1", rgb(9, 1)), ("12x8", rgb(8, 12))]:
    put("fuzz-image-file", name + ".png", head + img_bytes(arr, "PNG"))
put("fuzz-image-file", "gray.png", head + img_bytes(rng.integers(0, 256, (6, 5), dtype=np.uint8), "PNG"))
put("fuzz-image-file", "palette.png", head + pil_bytes(Image.fromarray(rgb(7, 7)).convert("P"), "PNG"))
put("fuzz-image-file", "16x16.jpg", head + img_bytes(rgb(16, 16), "JPEG", quality=80))
put("fuzz-image-file", "3x17.jpg", head + img_bytes(rgb(3, 17), "JPEG", quality=50))
put("fuzz-image-file", "5x4.bmp", head + img_bytes(rgb(4, 5), "BMP"))
put("fuzz-image-file", "sample.png", head + open(os.path.join(root, "data/samples/shapesworld/000005.png"), "rb").read())

# fuzz-segmenters: u16 nx, u16 ny, u16 D+2, cols+1, rows+1, then pixel bytes
def seg(nx, ny, d, c, r, pix):
    return struct.pack("<HHH", nx, ny, d + 2) + bytes([c + 1, r + 1]) + pix
put("fuzz-segmenters", "1x1", seg(0, 0, 64, 1, 1, b"\x10\x20\x30"))
put("fuzz-segmenters", "1xN", seg(0, 0x8000 | 300, 64, 1, 8, bytes(range(256))))
put("fuzz-segmenters", "Nx1", seg(0x8000 | 300, 0, 4, 8, 1, bytes(range(256))))
put("fuzz-segmenters", "square", seg(30, 30, 16, 4, 4, rng.integers(0, 256, 64, dtype=np.uint8).tobytes()))
put("fuzz-segmenters", "black", seg(20, 10, 64, 8, 8, b"\0"))

# fuzz-label-files: 1 byte (bit 0: ask for a width one off), then the file
labels = (np.arange(6 * 5).reshape(6, 5) // 4).astype(np.uint16)
put("fuzz-label-files", "labels16.png", b"\0" + img_bytes(labels, "PNG"))
put("fuzz-label-files", "labels8.png", b"\0" + img_bytes(labels.astype(np.uint8) * 40, "PNG"))
put("fuzz-label-files", "wrong-size.png", b"\1" + img_bytes(labels.astype(np.uint8), "PNG"))
put("fuzz-label-files", "committed.png", b"\0" + open(os.path.join(root, "tests/data/eval/samples/b-word/labels.png"), "rb").read())

# fuzz-npy: a .npy file
def npy(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()
masks = np.zeros((3, 4, 5, 1), np.uint8)
masks[0, :2] = 1
masks[1, 2:, :2] = 1
masks[2, 2:, 2:] = 1
put("fuzz-npy", "masks4d.npy", npy(masks))
put("fuzz-npy", "masks3d.npy", npy(masks[..., 0].astype(bool)))
put("fuzz-npy", "float-map.npy", npy(rng.random((4, 5)).astype(np.float32)))
put("fuzz-npy", "reference.npy", open(os.path.join(root, "tests/data/eval/reference-layout/npy/r1.npy"), "rb").read())

# fuzz-explanation-files: 1 flag byte, u16 JSON length, the JSON, the .npy
for name in ["r1", "r2", "r3"]:
    j = open(os.path.join(root, f"tests/data/eval/reference-layout/json/{name}.json"), "rb").read()
    n = open(os.path.join(root, f"tests/data/eval/reference-layout/npy/{name}.npy"), "rb").read()
    put("fuzz-explanation-files", name, b"\0" + struct.pack("<H", len(j)) + j + n)
for name in ["b-word", "c-hallucination"]:
    j = open(os.path.join(root, f"tests/data/eval/samples/{name}/explanation.json"), "rb").read()
    put("fuzz-explanation-files", name, b"\1" + struct.pack("<H", len(j)) + j + npy(masks))

# fuzz-dataset-record: one JSON line
records = [
    {"image": "a.png", "prompt": "describe the image"},
    {"id": "x/../y", "image": "/abs/b.png", "prompt": "is there a red circle ?", "answer": "yes",
     "target_words": ["red"], "target_indices": [0, 2], "target_text": "no", "revise": True,
     "location": [1, 2, 30, 40], "segmentation": [[1, 1, 5, 1, 5, 5]], "label": "no", "category": "shape"},
    {"id": 17, "image": "c.png", "prompt": "p", "target_indices": "0"},
]
for i, r in enumerate(records):
    put("fuzz-dataset-record", f"record-{i}.json", json.dumps(r).encode())

# fuzz-cli-options: NUL-separated arguments
argvs = [
    ["--lambda1", "1", "--lambda2", "0.5", "--search", "lazy", "--lazy-epsilon", "1e-3"],
    ["--segmenter", "grid", "--grid", "4x3", "--fill", "blur", "--method", "rise", "--samples", "8"],
    ["--target-index", "0", "--target-index", "2", "--target-word", "red", "--max-tokens", "4", "--no-eog"],
    ["--shard", "1/4", "--dataset", "d.jsonl", "-D", "16", "--max-regions", "3", "--stop-fraction", "0.9"],
    ["--search", "efficient", "--search-scope", "8", "--pending-samples", "4", "--update-step", "2", "--batch", "8"],
]
for i, a in enumerate(argvs):
    put("fuzz-cli-options", f"argv-{i}", b"\0".join(x.encode() for x in a))
# fuzz-reference-dataset: the reference's evaluation lists (tests/data/reference-dataset/, one of each kind)
for name in ["shapesworld-coco-caption", "shapesworld-coco-object", "shapesworld-RePOPE"]:
    put("fuzz-reference-dataset", name + ".json",
        open(os.path.join(root, f"tests/data/reference-dataset/{name}.json"), "rb").read())

# fuzz-image-file, the formats sized from their headers (src/image/image-header.cpp); kept last so the seeds
# above stay byte-identical
small = rgb(5, 7)
put("fuzz-image-file", "7x5.tiff", head + img_bytes(small, "TIFF"))
put("fuzz-image-file", "7x5-lossless.webp", head + img_bytes(small, "WEBP", lossless=True))
put("fuzz-image-file", "7x5-lossy.webp", head + img_bytes(small, "WEBP", quality=80))
put("fuzz-image-file", "7x5.ppm", head + img_bytes(small, "PPM"))
put("fuzz-image-file", "7x5.pgm", head + b"P2\n# ascii\n7 5\n255\n" + b" ".join(b"%d" % v for v in small[..., 0].ravel()))
put("fuzz-image-file", "7x5.pam", head + b"P7\nWIDTH 7\nHEIGHT 5\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + small.tobytes())
put("fuzz-image-file", "7x5.pfm", head + b"PF\n7 5\n-1.0\n" + (small / 255.0).astype("<f4").tobytes())
exif = b"Exif\0\0" + b"II*\0" + struct.pack("<IHHHIHHI", 8, 1, 0x0112, 3, 1, 6, 0, 0)
jpeg = img_bytes(rgb(6, 9), "JPEG", quality=80)
put("fuzz-image-file", "exif6.jpg", head + jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + jpeg[2:])

print("wrote", corpus)
