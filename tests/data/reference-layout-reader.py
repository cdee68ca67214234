#!/usr/bin/env python3
"""A test-only transcription, written for eagle.cpp, of how the EAGLE authors' evaluation scripts READ a folder of
explanations (github.com/RuoyuChen10/EAGLE: evals/eval_AUC_faithfulness.py, evals/eval_point_game.py,
evals/eval_hallucination_correction.py, and add_value in visualization/visualization.py). It opens DIR the way
they do: os.listdir(DIR/json), json.load of each file, the keys they index, np.load(DIR/npy/<stem>.npy) only when
that path contains "interpretation_results", add_value in float16 over the npy's masks (S_set[k] == 1), the
point game's box slice. So `eagle explain --layout reference` output that this reads is output they read.

Where a dependency is absent here, the arithmetic stands in for it:
  sklearn.metrics.auc       -> the trapezoid rule, sign flipped for a decreasing x (what auc does)
  cv2.imread(<Datasets>/<stem>.jpg) only gives the map's target size -> the npy's own H x W (eagle's masks are at
                               the image's resolution, where cv2.resize is the identity)
  the mask point game (cv2.fillPoly) is left out; eagle's own tests check it (tests/data/reference-metrics.py).

usage: reference-layout-reader.py DIR   prints one JSON object: the numbers the three scripts print (unrounded)
"""
import json
import os
import sys

import numpy as np


def auc(x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    d = np.diff(x)
    direction = 1
    if np.any(d < 0):
        if np.all(d <= 0):
            direction = -1
        else:
            raise ValueError("x is neither increasing nor decreasing")
    return direction * float(np.trapz(y, x))


def add_value(S_set, json_file):
    single_mask = np.zeros_like(S_set[0]).astype(np.float16)
    value_list_1 = np.array(json_file["smdl_score"])
    value_list_2 = np.array([np.mean(1 - np.array(json_file["org_score"]) + np.array(json_file["baseline_score"]))]
                            + json_file["smdl_score"][:-1])
    value_list = value_list_1 - value_list_2
    value = 0
    for smdl_single_mask, smdl_value in zip(S_set, value_list):
        value = value - abs(smdl_value)
        single_mask[smdl_single_mask == 1] = value
    attribution_map = single_mask - single_mask.min()
    return attribution_map / attribution_map.max()


def point_game(bbox, saliency_map):
    x1, y1, x2, y2 = bbox
    w, h = saliency_map.shape
    empty = np.zeros((w, h))
    empty[y1:y2, x1:x2] = 1
    return 1 if (saliency_map * empty).max() == saliency_map.max() else 0


def main(explanation_dir, sensitivity=0.2):
    json_root = os.path.join(explanation_dir, "json")
    npy_root = os.path.join(explanation_dir, "npy")
    out = {"n_samples": 0}
    ins, dels, highest = [], [], []
    s_ins, s_dels, s_highest = [], [], []
    pg_box = []
    amcr, csr = [], []
    has_label = False
    for name in os.listdir(json_root):
        with open(os.path.join(json_root, name), "r", encoding="utf-8") as f:
            j = json.load(f)
        out["n_samples"] += 1
        insertion_area = np.array([0] + j["region_area"])
        deletion_area = 1 - insertion_area
        insertion_score = np.array([j["deletion_score"][-1]] + j["insertion_score"])
        deletion_score = np.array([j["insertion_score"][-1]] + j["deletion_score"])
        ins.append(auc(insertion_area, insertion_score))
        dels.append(auc(deletion_area, deletion_score))
        highest.append(insertion_score.max())

        index = (np.array(j["insertion_word_score"][-1]) - np.array(j["deletion_word_score"][-1])) > sensitivity
        if index.sum() > 0:
            s_ins_score = np.array([np.array(j["deletion_word_score"][-1])[index].mean()]
                                   + [np.array(w)[index].mean() for w in j["insertion_word_score"]])
            s_del_score = np.array([np.array(j["insertion_word_score"][-1])[index].mean()]
                                   + [np.array(w)[index].mean() for w in j["deletion_word_score"]])
            s_ins.append(auc(insertion_area, s_ins_score))
            s_dels.append(auc(deletion_area, s_del_score))
            s_highest.append(s_ins_score.max())

        npy_path = os.path.join(npy_root, name.replace(".json", ".npy"))
        if "location" in j:
            if "interpretation_results" not in npy_path:
                raise SystemExit(npy_path + ": the point game reads it as a dense map (no 'interpretation_results' in the path)")
            S_set = np.load(npy_path)
            attribution_map = add_value(S_set, j).astype(float)[:, :, 0]  # cv2.resize to the same size drops the channel
            pg_box.append(point_game(j["location"], attribution_map))

        if "label" in j:
            has_label = True
            label = j["label"]
            prefix = {"yes": "Yes", "no": "No"}.get(label)
            if prefix is not None:
                revised = j["revised_answering"]
                for k in range(1, len(revised) + 1):
                    if revised[-k][:len(prefix)] == prefix:
                        a = 1 - insertion_area[-k]
                        amcr.append(a)
                        csr.append(1 if a <= 0.1 else 0)
                        break
                    if k == len(revised):
                        amcr.append(1)
    out["insertion_auc"] = float(np.array(ins).mean())
    out["deletion_auc"] = float(np.array(dels).mean())
    out["average_highest_confidence"] = float(np.array(highest).mean())
    if s_ins:
        out["sensitive_insertion_auc"] = float(np.array(s_ins).mean())
        out["sensitive_deletion_auc"] = float(np.array(s_dels).mean())
        out["sensitive_average_highest_confidence"] = float(np.array(s_highest).mean())
    if pg_box:
        out["point_game_box"] = float(np.array(pg_box).mean())
    if has_label:
        out["amcr"] = float(np.array(amcr).mean())
        out["csr_10"] = float(np.array(csr).mean()) if csr else None
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
