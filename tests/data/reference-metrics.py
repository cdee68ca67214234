#!/usr/bin/env python3
"""Makes tests/data/eval/expected.json: the numbers the EAGLE reference's evaluation scripts print for the
explanations under tests/data/eval/, so test-metrics checks `eagle eval --json` against them.

The formulas are transcribed from the authors' scripts (eagle-reference.md §6.3, §7.3, §7.4), in pure python so
no numpy, sklearn or cv2 is needed:
  evals/eval_AUC_faithfulness.py         insertion/deletion AUC (sklearn.metrics.auc), highest score, and the
                                         same over sensitive tokens (p_full - p_black > 0.2)
  evals/eval_point_game.py               Point Game on the box (map[y1:y2, x1:x2]) and on the polygon mask
                                         (float32 -> np.round -> int32 -> clip -> cv2.fillPoly), with the map
                                         from visualization.py:add_value (float16) on the npy region masks
  evals/eval_hallucination_correction.py AMCR, CSR@10% (never-corrected samples: AMCR 1, no CSR term), plus the
                                         clean CSR (they count as failures)
numpy's reductions are pairwise sums and add_value works in float16; both are emulated (struct's 'e' and 'f'
formats round like numpy's casts), because point-game ties depend on them. cv2.fillPoly is OpenCV's
CollectPolyEdges + FillEdgeCollection for integer points inside the image (what the script's clip leaves).

Extensions the reference lacks, as eagle eval defines them: a sample without `label` uses
hallucination.correct_answer as the required answer prefix; a null revised answer (not computed) is not a
correct one.

Rerun: python3 tests/data/reference-metrics.py > tests/data/eval/expected.json
"""
import ast
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL_DIR = os.path.join(HERE, "eval")
SENSITIVITY = 0.2


# ---------------------------------------------------------------------------------------------------------
# numpy and sklearn

def pairwise_sum(a):
    """np.add.reduce on float64 (numpy's pairwise summation, blocks of 8 accumulators up to 128)."""
    n = len(a)
    if n < 8:
        res = -0.0
        for v in a:
            res += v
        return res
    if n <= 128:
        r = list(a[:8])
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a[:n2]) + pairwise_sum(a[n2:])


def mean(a):
    return (0.0 + pairwise_sum(a)) / len(a) if a else float("nan")


def np_max(a):
    return float("nan") if any(v != v for v in a) else max(a)


def np_min(a):
    return float("nan") if any(v != v for v in a) else min(a)


def f16(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def sk_auc(x, y):
    """sklearn.metrics.auc: np.trapz(y, x), sign flipped for a non-increasing x."""
    assert len(x) == len(y) and len(x) >= 2
    dx = [x[i + 1] - x[i] for i in range(len(x) - 1)]
    direction = 1.0
    if any(d < 0 for d in dx):
        if all(d <= 0 for d in dx):
            direction = -1.0
        else:
            raise ValueError("x is neither increasing nor decreasing")
    terms = [dx[i] * (y[i + 1] + y[i]) / 2.0 for i in range(len(dx))]
    return direction * pairwise_sum(terms)


# ---------------------------------------------------------------------------------------------------------
# eval_AUC_faithfulness.py

def faithfulness(j, sensitivity):
    insertion_area = [0] + j["region_area"]
    deletion_area = [1 - a for a in insertion_area]
    insertion_score = [j["deletion_score"][-1]] + j["insertion_score"]
    deletion_score = [j["insertion_score"][-1]] + j["deletion_score"]
    full, black = j["insertion_word_score"][-1], j["deletion_word_score"][-1]
    keep = [full[t] - black[t] > sensitivity for t in range(len(full))]
    out = {"insertion_auc": sk_auc(insertion_area, insertion_score),
           "deletion_auc": sk_auc(deletion_area, deletion_score),
           "highest": np_max(insertion_score)}
    if sum(keep) > 0:
        sel = lambda row: mean([row[t] for t in range(len(row)) if keep[t]])
        ins_s = [sel(black)] + [sel(row) for row in j["insertion_word_score"]]
        del_s = [sel(full)] + [sel(row) for row in j["deletion_word_score"]]
        out["sensitive"] = {"insertion_auc": sk_auc(insertion_area, ins_s),
                            "deletion_auc": sk_auc(deletion_area, del_s),
                            "highest": np_max(ins_s)}
    return out


# ---------------------------------------------------------------------------------------------------------
# eval_point_game.py

def load_npy(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY"
    if data[6] == 1:
        hlen, off = struct.unpack("<H", data[8:10])[0], 10
    else:
        hlen, off = struct.unpack("<I", data[8:12])[0], 12
    header = ast.literal_eval(data[off:off + hlen].decode("latin1"))  # a dict literal, as numpy writes it
    assert header["descr"] in ("|u1", "<u1", "|b1") and not header["fortran_order"]
    return header["shape"], data[off + hlen:]


def add_value(shape, raw, j):
    """visualization.py:add_value on S_set [n, H, W(, 1)] of uint8 masks, in float16 like the script."""
    n, h, w = shape[0], shape[1], shape[2]
    px = h * w
    f0 = mean([(1 - o) + b for o, b in zip(j["org_score"], j["baseline_score"])])
    smdl = j["smdl_score"]
    prev = [f0] + smdl[:-1]
    single = [0.0] * px  # np.zeros_like(S_set[0]).astype(float16)
    value = 0
    for k in range(min(n, len(smdl))):  # zip(S_set, value_list)
        value = value - abs(smdl[k] - prev[k])
        v16 = f16(value)
        base = k * px
        for i in range(px):
            if raw[base + i] == 1:
                single[i] = v16
    lo = np_min(single)
    single = [f16(f32(v - lo)) for v in single]  # float16 - float16: float32 arithmetic, back to float16
    hi = np_max(single)
    if hi == 0:
        return [float("nan")] * px, w, h  # 0 / 0
    return [f16(f32(v / hi)) for v in single], w, h


def cv_line(mask, x0, y0, x1, y1):
    """cv::LineIterator, 8-connected, left to right (endpoints inside the image)."""
    dx, dy = x1 - x0, y1 - y0
    if dx < 0:
        dx, dy, x0, y0 = -dx, -dy, x1, y1
    sy = -1 if dy < 0 else 1
    dy = abs(dy)
    steep = dy > dx
    if steep:
        dx, dy = dy, dx
    err, plus, minus = dx - 2 * dy, 2 * dx, -2 * dy
    x, y = x0, y0
    for _ in range(dx + 1):
        mask[y][x] = 1
        step_minor = err < 0
        err += minus + (plus if step_minor else 0)
        if steep:
            y += sy
            x += 1 if step_minor else 0
        else:
            x += 1
            y += sy if step_minor else 0


def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def cv_fill_poly(mask, pts, w, h):
    """cv2.fillPoly(mask, [pts], 1) for integer points inside the image (shift 0, LINE_8)."""
    edges = []
    for i in range(len(pts)):
        (ax, ay), (bx, by) = pts[i - 1], pts[i]
        cv_line(mask, ax, ay, bx, by)
        if ay == by:
            continue
        dx = trunc_div((bx << 16) - (ax << 16), by - ay)
        if ay < by:
            edges.append((ay, by, ax << 16, dx))
        else:
            edges.append((by, ay, bx << 16, dx))
    if len(edges) < 2:
        return
    y_min = min(e[0] for e in edges)
    y_max = min(max(e[1] for e in edges), h)
    for y in range(y_min, y_max):
        xs = sorted(x + (y - y0) * dx for (y0, y1, x, dx) in edges if y0 <= y < y1)
        for k in range(0, len(xs) - 1, 2):
            x1 = (xs[k] + (1 << 16) - 1) >> 16
            x2 = xs[k + 1] >> 16
            if x1 < w and x2 >= 0:
                for x in range(max(x1, 0), min(x2, w - 1) + 1):
                    mask[y][x] = 1


def segmentation_to_mask(segmentation, w, h):
    mask = [[0] * w for _ in range(h)]
    if segmentation is None or not isinstance(segmentation, list) or len(segmentation) == 0:
        return mask
    polygons = segmentation if isinstance(segmentation[0], list) else [segmentation]
    for poly in polygons:
        if poly is None or len(poly) < 6:
            continue
        pts = []
        for i in range(0, len(poly), 2):
            x = min(max(int(round(f32(poly[i]))), 0), w - 1)       # np.round: half to even, like round()
            y = min(max(int(round(f32(poly[i + 1]))), 0), h - 1)
            pts.append((x, y))
        cv_fill_poly(mask, pts, w, h)
    return mask


def point_game(saliency, w, h, inside):
    if any(v != v for v in saliency):
        return 0  # NaN == NaN is False
    masked = max(saliency[i] * (1 if inside[i] else 0) for i in range(w * h))
    return 1 if masked == max(saliency) else 0


def point_game_box(bbox, saliency, w, h):
    x1, y1, x2, y2 = bbox
    inside = [0] * (w * h)
    for y in range(h)[y1:y2]:  # numpy slicing semantics
        for x in range(w)[x1:x2]:
            inside[y * w + x] = 1
    return point_game(saliency, w, h, inside)


def point_game_mask(segmentation, saliency, w, h):
    mask = segmentation_to_mask(segmentation, w, h)
    return point_game(saliency, w, h, [mask[i // w][i % w] for i in range(w * h)])


# ---------------------------------------------------------------------------------------------------------
# eval_hallucination_correction.py

def correction(j, region_area):
    if "label" in j:
        prefix = {"yes": "Yes", "no": "No"}.get(j["label"])
    elif "hallucination" in j:
        prefix = j["hallucination"]["correct_answer"]
    else:
        return None
    if not prefix:
        return None
    revised = j["revised_answering"] if "revised_answering" in j else j["hallucination"]["revised_answering"]
    insertion_area = [0] + region_area
    for k in range(1, len(revised) + 1):
        answer = revised[-k]
        if answer is not None and answer[:len(prefix)] == prefix:
            amcr = 1 - insertion_area[-k]
            return {"amcr": amcr, "csr": 1 if amcr <= 0.1 else 0}
        if k == len(revised):
            return {"amcr": 1, "csr": None}
    return None


# ---------------------------------------------------------------------------------------------------------

def samples_in(folder):
    """(json path, npy path) for an eagle folder of folders or the reference's json/ + npy/ layout."""
    out = []
    if os.path.isdir(os.path.join(folder, "json")):
        for name in sorted(os.listdir(os.path.join(folder, "json"))):
            if name.endswith(".json"):
                out.append((os.path.join(folder, "json", name), os.path.join(folder, "npy", name[:-5] + ".npy")))
    for name in sorted(os.listdir(folder)):
        sub = os.path.join(folder, name)
        if os.path.isfile(os.path.join(sub, "explanation.json")):
            out.append((os.path.join(sub, "explanation.json"), os.path.join(sub, "regions.npy")))
    return out


def evaluate(folders):
    ins, dele, high, s_ins, s_del, s_high, box, seg, amcr, csr, csr_clean = ([] for _ in range(11))
    n_localised = 0
    for folder in folders:
        for json_path, npy_path in samples_in(folder):
            j = json.load(open(json_path, encoding="utf-8"))
            f = faithfulness(j, SENSITIVITY)
            ins.append(f["insertion_auc"])
            dele.append(f["deletion_auc"])
            high.append(f["highest"])
            if "sensitive" in f:
                s_ins.append(f["sensitive"]["insertion_auc"])
                s_del.append(f["sensitive"]["deletion_auc"])
                s_high.append(f["sensitive"]["highest"])
            if "location" in j or "segmentation" in j:
                shape, raw = load_npy(npy_path)
                saliency, w, h = add_value(shape, raw, j)
                n_localised += 1
                if "location" in j:
                    box.append(point_game_box(j["location"], saliency, w, h))
                if "segmentation" in j:
                    seg.append(point_game_mask(j["segmentation"], saliency, w, h))
            c = correction(j, j["region_area"])
            if c is not None:
                amcr.append(c["amcr"])
                if c["csr"] is not None:
                    csr.append(c["csr"])
                csr_clean.append(c["csr"] or 0)
    out = {"n_samples": len(ins), "insertion_auc": mean(ins), "deletion_auc": mean(dele),
           "average_highest_confidence": mean(high), "n_sensitive_samples": len(s_ins)}
    if s_ins:
        out.update({"sensitive_insertion_auc": mean(s_ins), "sensitive_deletion_auc": mean(s_del),
                    "sensitive_average_highest_confidence": mean(s_high)})
    if n_localised:
        out["n_localised_samples"] = n_localised
        if box:
            out["point_game_box"] = mean([float(v) for v in box])
        if seg:
            out["point_game_mask"] = mean([float(v) for v in seg])
        if len(box) != len(seg):
            out.update({"n_box_samples": len(box), "n_mask_samples": len(seg)})
    if amcr:
        out.update({"n_hallucination_samples": len(amcr), "n_corrected_samples": len(csr),
                    "amcr": mean([float(v) for v in amcr]),
                    "csr_10": mean([float(v) for v in csr]) if csr else None,
                    "csr_10_clean": mean([float(v) for v in csr_clean])})
    return out


def main():
    samples = os.path.join(EVAL_DIR, "samples")
    reference = os.path.join(EVAL_DIR, "reference-layout")
    expected = {"samples": evaluate([samples]),
                "reference-layout": evaluate([reference]),
                "all": evaluate([samples, reference])}
    json.dump(expected, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
