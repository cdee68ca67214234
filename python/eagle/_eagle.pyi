# Type stub of the native module (python/src/eagle-module.cpp). Use the `eagle` package's API instead.
from typing import Callable, Optional

import numpy as np

version: str
llama_cpp: str
default_model: str
default_mmproj: str
default_image: str

def engines() -> list[str]: ...
def search_modes() -> list[str]: ...
def methods() -> list[str]: ...
def load_image(path: str) -> np.ndarray: ...

class ModelParams:
    engine: str
    model_path: str
    mmproj_path: str
    n_threads: int
    n_workers: int
    pin_workers: bool
    n_gpu_layers: int
    blas: str
    chat_template: str
    system_prompt: Optional[str]

class SessionParams:
    n_seq: int
    n_ctx: int
    use_flash_attn: bool
    use_f32_kv: bool
    use_memo: bool

class Request:
    image_path: str
    more_image_paths: list[str]
    prompt: str
    use_raw_prompt: bool
    answer_text: str
    max_tokens: int
    append_eog: bool
    target_words: list[str]
    target_indices: list[int]
    target_text: str
    revise: bool
    method: str
    def set_fill(self, name: str) -> None: ...
    def set_regions(self, kind: str, n_divisions: int, grid: str, labels_path: str) -> None: ...
    def set_search(self, method: str, search: str, lambda1: float, lambda2: float, seed: int, n_samples: int,
                   max_regions: int, stop_fraction: float, lazy_batch: int, lazy_epsilon: float, search_scope: int,
                   pending_samples: int, update_step: int) -> None: ...
    def set_ground_truth(self, json_text: str) -> None: ...

class Record:
    answer: str
    answer_ids: np.ndarray
    words: list[bytes]
    target_indices: np.ndarray
    target_ids: np.ndarray
    order: np.ndarray
    n_ranked: int
    n_regions: int
    is_complete: bool
    insertion_score: np.ndarray
    deletion_score: np.ndarray
    smdl_score: np.ndarray
    region_area: np.ndarray
    insertion_word_score: np.ndarray
    deletion_word_score: np.ndarray
    org_score: np.ndarray
    baseline_score: np.ndarray
    marginal_gain: np.ndarray
    region_attribution: np.ndarray
    n_evaluations: int
    n_memo_hits: int
    t_search_us: int
    image: np.ndarray
    labels: np.ndarray
    def attribution_map(self) -> np.ndarray: ...
    def token_map(self, i_target: int) -> np.ndarray: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> dict: ...
    def save(self, directory: str) -> None: ...
    def html(self) -> str: ...
    def metrics(self, sensitivity: float, map: str) -> dict: ...

class Model:
    def __init__(self, model: ModelParams, session: SessionParams) -> None: ...
    def generate(self, image: np.ndarray, prompt: str, use_raw_prompt: bool, max_tokens: int) -> dict: ...
    def explain(self, request: Request, image: Optional[np.ndarray] = None,
                progress: Optional[Callable[[str, int, int], Optional[bool]]] = None) -> Record: ...
    description: str
    engine_version: str
    chat_template: str
    def format_prompt(self, prompt: str, use_raw_prompt: bool) -> str: ...
    def stats(self) -> dict: ...
    def tokenize(self, text: str) -> list[int]: ...
    def token_piece(self, id: int) -> bytes: ...

def evaluate_records(records: list[Record], sensitivity: float, map: str) -> dict: ...
def evaluate_dirs(dirs: list[str], sensitivity: float, map: str) -> dict: ...
