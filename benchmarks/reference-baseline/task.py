"""What the baseline explains, read from an eagle explanation folder (`eagle explain --out DIR`) or given
directly: the image, the prompt, the teacher-forced answer ids, the target answer positions, and eagle's
regions (labels.png, one 16-bit region id per pixel) and ranking to compare against."""
import json
import os

import numpy as np
from PIL import Image


class Task:
    def __init__(self, image, prompt, answer_ids, target_indices, labels=None, eagle=None):
        self.image = image                  # H x W x 3 uint8, RGB
        self.prompt = prompt
        self.answer_ids = list(answer_ids)
        self.target_indices = list(target_indices)
        self.labels = labels                # H x W int region ids, or None
        self.eagle = eagle                  # eagle's explanation.json, or None


def load_rgb(path):
    return np.array(Image.open(path).convert("RGB"), dtype=np.uint8)


def from_explanation(folder):
    """The task an eagle explanation folder records. The image path in explanation.json is the one eagle was
    given; a relative path is tried against the current directory (run from where eagle ran), then against the
    folder."""
    with open(os.path.join(folder, "explanation.json")) as f:
        ex = json.load(f)
    run = ex["run"]
    image_path = run["image"]
    if not os.path.exists(image_path) and os.path.exists(os.path.join(folder, image_path)):
        image_path = os.path.join(folder, image_path)
    if not os.path.exists(image_path):
        raise FileNotFoundError(f"{folder}: image '{run['image']}' not found; run from the directory eagle ran in")
    if run.get("raw_prompt"):
        raise ValueError(f"{folder}: a --raw-prompt explanation is not supported by the baseline")
    if run.get("fill", "black") != "black":
        raise ValueError(f"{folder}: fill '{run.get('fill')}'; the reference (and this baseline) fills with black")
    labels = np.array(Image.open(os.path.join(folder, "labels.png")), dtype=np.int64)
    image = load_rgb(image_path)
    if labels.shape != image.shape[:2]:
        raise ValueError(f"{folder}: labels.png is {labels.shape[::-1]} but the image is {image.shape[1::-1]}")
    return Task(image, run["prompt"], ex["answer_ids"], ex["selected_interpretation_token_id"], labels, ex)


def region_masks(labels):
    """The reference's V: one H x W x 1 binary mask per region id, in id order (its tie order), and the ids."""
    ids = np.unique(labels)
    return [(labels == i).astype(np.float32)[..., None] for i in ids], [int(i) for i in ids]
