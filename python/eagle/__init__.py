"""eagle: why did the vision-language model say that?

EAGLE attribution (Chen et al., arXiv 2509.22496) for the GGUF vision-language models llama.cpp runs, from
Python. A thin layer over eagle.cpp's library: the same explanation as ``eagle explain``, numpy out, the
report inline in Jupyter.

    >>> import eagle
    >>> m = eagle.Model()                                    # the embedded ShapesWorld model
    >>> e = m.explain("cat.png", "describe the image")       # path, PIL image or HxWx3 uint8 array
    >>> e.answer, e.ranking[:5], e.attribution.shape
    >>> e.reliance[0]                                        # {'word': ..., 'verdict': 'vision', ...}
    >>> e.save("out/cat"); e                                 # the CLI's folder; the report inline in Jupyter
    >>> eagle.evaluate([e])                                  # the reference's metrics as a dict
"""

from __future__ import annotations

import json as _json
import os as _os
import tempfile as _tempfile
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as _np

try:
    from . import _eagle
except ImportError as _error:  # pragma: no cover - depends on how Python was started
    if "GLIBC" in str(_error) or "libllama" in str(_error):
        raise ImportError(
            "eagle's llama.cpp (Debian unstable's, in the project's private prefix) needs a newer C library than "
            "this python3 runs on; start Python through build/bin/eagle-python (it runs python3 on that prefix's "
            f"C library), or build eagle against a system llama.cpp ({_error})"
        ) from _error
    raise

__version__ = _eagle.version
llama_cpp_version = _eagle.llama_cpp

__all__ = ["Model", "Explanation", "Generation", "evaluate", "engines", "search_modes", "methods", "__version__"]


def engines() -> list[str]:
    """The inference engines this build can load (e.g. ['llama', 'mock'])."""
    return list(_eagle.engines())


def search_modes() -> list[str]:
    """EAGLE's searches: exact (the reference greedy), efficient (its windowed variant), lazy, shortlist (two-sided, the default)."""
    return list(_eagle.search_modes())


def methods() -> list[str]:
    """Attribution methods: eagle, its ablations (insight-only, necessity-only) and the baselines."""
    return list(_eagle.methods())


def _text(piece: bytes) -> str:
    # token pieces are bytes: byte-fallback tokens can split a UTF-8 sequence
    return piece.decode("utf-8", errors="replace")


def _image_array(image: Any) -> _np.ndarray:
    """A PIL image or an array as an HxWx3 uint8 array."""
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL.Image.Image, without importing PIL
        image = _np.asarray(image.convert("RGB"))
    array = _np.asarray(image)
    if array.ndim == 2:
        array = _np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"image: expected HxWx3 (or HxWx4) pixels, got an array of shape {array.shape}")
    if array.dtype != _np.uint8:
        if _np.issubdtype(array.dtype, _np.floating) and array.size and float(array.max()) <= 1.0:
            array = array * 255.0
        array = _np.clip(_np.rint(array), 0, 255).astype(_np.uint8)
    return _np.ascontiguousarray(array[:, :, :3])


class Generation:
    """A greedy answer: ``text`` and ``tokens`` (dicts with id, piece, prob, is_eog)."""

    def __init__(self, raw: dict):
        self.text: str = raw["text"]
        self.tokens: list[dict] = [dict(t, piece=_text(t["piece"])) for t in raw["tokens"]]

    def __repr__(self) -> str:
        return f"Generation({self.text!r}, {len(self.tokens)} tokens)"


class Explanation:
    """One explanation: the answer, the region ranking, maps, curves, per-token reliance.

    Arrays are numpy. Regions are ids into ``labels`` (HxW); ``ranking`` orders them, most important first.
    """

    def __init__(self, record: "_eagle.Record"):
        self._record = record

    # --- the answer and its targets ---
    @property
    def answer(self) -> str:
        """The explained answer (generated, or the one given)."""
        return self._record.answer

    @property
    def tokens(self) -> list[str]:
        """Every answer token's text ('' for the end-of-generation token)."""
        return [_text(w) for w in self._record.words]

    @property
    def target_indices(self) -> _np.ndarray:
        """The explained positions of ``tokens``."""
        return self._record.target_indices

    # --- where the model looked ---
    @property
    def ranking(self) -> _np.ndarray:
        """Region ids, most important first (all regions; see ``n_ranked``)."""
        return self._record.order

    @property
    def n_ranked(self) -> int:
        """How many regions of ``ranking`` the search ranked (the rest follow a budget's cheap order)."""
        return self._record.n_ranked

    @property
    def labels(self) -> _np.ndarray:
        """HxW int32: the region id of every pixel."""
        return self._record.labels

    @property
    def region_masks(self) -> _np.ndarray:
        """n_regions x H x W bool, in ranking order (the reference's regions.npy, as booleans)."""
        labels = self.labels
        return _np.stack([labels == r for r in self.ranking]) if len(self.ranking) else _np.zeros((0,) + labels.shape, bool)

    @property
    def region_attribution(self) -> _np.ndarray:
        """Per region id, the map's value in [0, 1]."""
        return self._record.region_attribution

    @property
    def attribution(self) -> _np.ndarray:
        """HxW float32 attribution map of the whole answer, in [0, 1] (1 = most important)."""
        return self._record.attribution_map()

    @property
    def token_attr(self) -> _np.ndarray:
        """T x H x W: each target's share of the gains along the answer's ranking (not that word's own ranking:
        explain the word alone, ``targets=[word]``, for that)."""
        return _np.stack([self._record.token_map(t) for t in range(len(self.target_indices))])

    @property
    def image(self) -> _np.ndarray:
        """The explained image, HxWx3 uint8."""
        return self._record.image

    # --- curves and reliance ---
    @property
    def curves(self) -> dict:
        """The reference's log: insertion/deletion scores (mean over targets and per target), area, objective."""
        r = self._record
        return {
            "region_area": r.region_area,
            "insertion": r.insertion_score,
            "deletion": r.deletion_score,
            "objective": r.smdl_score,
            "insertion_per_token": r.insertion_word_score,
            "deletion_per_token": r.deletion_word_score,
            "p_full": r.org_score,
            "p_black": r.baseline_score,
            "marginal_gain": r.marginal_gain,
        }

    @property
    def reliance(self) -> list[dict]:
        """Per target: index, word, p_black, p_full, influence, influence_normalized, sensitive, verdict
        ('vision' or 'language')."""
        return self.to_dict()["reliance"]

    @property
    def hallucination(self) -> Optional[dict]:
        """The minimal-correction diagnosis (``revise=True``), else None."""
        return self.to_dict().get("hallucination")

    @property
    def n_evaluations(self) -> int:
        """Masked images the model scored for this explanation."""
        return self._record.n_evaluations

    @property
    def is_complete(self) -> bool:
        return self._record.is_complete

    # --- output ---
    def to_dict(self) -> dict:
        """explanation.json as a dict."""
        return self._record.to_dict()

    def to_json(self) -> str:
        """explanation.json's text (the reference's keys and eagle's)."""
        return self._record.to_json()

    def save(self, directory: Union[str, _os.PathLike]) -> str:
        """Writes the same folder as ``eagle explain --out``; returns its path."""
        directory = _os.fspath(directory)
        self._record.save(directory)
        return directory

    def html(self) -> str:
        """The self-contained report page (report.html)."""
        return self._record.html()

    def _repr_html_(self) -> str:
        return self.html()

    def metrics(self, *, sensitivity: float = 0.2, map: str = "attribution") -> dict:
        """This explanation's numbers as ``eagle eval`` computes them."""
        return self._record.metrics(sensitivity, map)

    def plot(self, ax=None, *, token: Optional[int] = None, alpha: float = 0.5):
        """The attribution map (or target ``token``'s) over the image, with matplotlib. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        heat = self.attribution if token is None else self._record.token_map(int(token))
        ax.imshow(self.image)
        ax.imshow(heat, cmap="viridis", alpha=alpha, vmin=0.0, vmax=1.0)
        words = self.tokens
        title = self.answer if token is None else repr(words[int(self.target_indices[int(token)])].strip())
        ax.set_title(title)
        ax.axis("off")
        return ax

    def __repr__(self) -> str:
        return (f"Explanation({self.answer!r}, {len(self.target_indices)} targets, {len(self.ranking)} regions, "
                f"{self.n_evaluations} evaluations)")


def _default_paths() -> tuple[str, str]:
    # an installed package carries the model beside it; a build tree knows where the source tree keeps it
    here = _os.path.join(_os.path.dirname(__file__), "models")
    packaged = (_os.path.join(here, "shapesworld-model.gguf"), _os.path.join(here, "shapesworld-mmproj.gguf"))
    if all(_os.path.isfile(p) for p in packaged):
        return packaged
    return _eagle.default_model, _eagle.default_mmproj


def _check_file(path: str, what: str) -> str:
    path = _os.fspath(path)
    if not _os.path.isfile(path):
        raise FileNotFoundError(f"{what} '{path}' does not exist")
    return path


class Model:
    """A vision-language model, loaded once, with its scoring session.

    ``Model()`` is the embedded ShapesWorld model; ``Model("m.gguf", "mmproj.gguf")`` a GGUF pair llama.cpp
    runs; ``Model(engine="mock")`` the weight-free analytic engine (for trying the API). Keywords: threads
    (0 = all), workers (masks scored side by side by that many single-thread workers; 0 = auto: one per thread
    for 2..4 threads on CPU with BLAS on and a text model under 1B parameters), pin_workers (each worker thread
    bound to a CPU of its own while a batch is scored; False leaves them to the kernel), batch (masked images per
    llama_decode), ctx (0 = sized from the request), gpu_layers,
    flash_attn, blas (ggml's BLAS backend: True, False, or None = on when libblas.so.3 is OpenBLAS on OpenMP;
    process-wide once on),
    chat_template (the CLI's --chat-template: a family's Hugging Face rendering, e.g. "qwen2.5-vl", or "auto"),
    system (the CLI's --system: None = the family's default system turn, "" = none).
    """

    def __init__(self, model: Optional[str] = None, mmproj: Optional[str] = None, *, engine: str = "llama",
                 threads: int = 0, workers: int = 0, pin_workers: bool = True, batch: int = 16, ctx: int = 0, gpu_layers: int = 0, flash_attn: bool = False,
                 blas: Optional[bool] = None, chat_template: str = "auto", system: Optional[str] = None):
        mp = _eagle.ModelParams()
        mp.engine = engine
        if engine == "llama":
            if model is None:
                if mmproj is not None:
                    raise ValueError("mmproj given without model")
                model, mmproj = _default_paths()
            elif mmproj is None:
                raise ValueError(f"model '{model}' needs mmproj (its multimodal projector)")
            mp.model_path = _check_file(model, "model")
            mp.mmproj_path = _check_file(mmproj, "mmproj")
        mp.n_threads = int(threads)
        mp.n_workers = int(workers)
        mp.pin_workers = bool(pin_workers)
        mp.n_gpu_layers = int(gpu_layers)
        mp.blas = "auto" if blas is None else ("on" if blas else "off")
        mp.chat_template = str(chat_template)
        mp.system_prompt = None if system is None else str(system)
        sp = _eagle.SessionParams()
        sp.n_seq = int(batch)
        sp.n_ctx = int(ctx)
        sp.use_flash_attn = bool(flash_attn)
        self._model = _eagle.Model(mp, sp)
        self.model_path = mp.model_path
        self.mmproj_path = mp.mmproj_path

    @property
    def description(self) -> str:
        return self._model.description

    @property
    def chat_template(self) -> str:
        """The chat template family prompts are rendered with ("llama.cpp" for llama.cpp's own table)."""
        return self._model.chat_template

    def format_prompt(self, prompt: str = "describe the image", *, raw_prompt: bool = False) -> str:
        """The prompt text the model is fed (chat template applied), the image marked by the engine's marker."""
        return self._model.format_prompt(prompt, bool(raw_prompt))

    def _image(self, image) -> tuple[str, Optional[_np.ndarray]]:
        if image is None:
            return _check_file(_eagle.default_image, "image"), None
        if isinstance(image, (str, _os.PathLike)):
            return _check_file(image, "image"), None
        return "<array>", _image_array(image)

    def generate(self, image=None, prompt: str = "describe the image", *, raw_prompt: bool = False,
                 max_tokens: int = 128) -> Generation:
        """The model's greedy answer for the image (path, PIL image or array)."""
        path, array = self._image(image)
        if array is None:
            array = _load_rgb(path)
        return Generation(self._model.generate(array, prompt, raw_prompt, int(max_tokens)))

    def explain(self, image=None, prompt: str = "describe the image", answer: Optional[str] = None,
                targets: Optional[Sequence[Union[str, int]]] = None, *, search: str = "shortlist", method: str = "eagle",
                divisions: int = 64, regions=None, grid: Optional[str] = None, fill: str = "black",
                target_text: Optional[str] = None, revise: bool = False, raw_prompt: bool = False,
                max_tokens: int = 128, eog: bool = True, lambda1: float = 1.0, lambda2: float = 1.0, seed: int = 1,
                samples: int = 256, max_regions: int = 0, stop_fraction: float = 0.0, lazy_batch: int = 8,
                lazy_epsilon: float = 0.0, search_scope: int = 10, pending_samples: int = 8, update_step: int = 5,
                ground_truth: Optional[dict] = None, answer_ids: Optional[Sequence[int]] = None,
                prompt_ids: Optional[Sequence[int]] = None, image_token: int = -1,
                target_ids: Optional[Sequence[int]] = None, image_fit: str = "native", fit_size: int = 0,
                more_images: Optional[Sequence[Union[str, _os.PathLike]]] = None,
                progress: Union[bool, Callable[[str, int, int], Optional[bool]]] = True) -> Explanation:
        """Explains the model's answer (or ``answer``) for the image: which regions make it say it.

        image: a path, a PIL image or an HxWx3 uint8 array (None: the bundled sample image).
        targets: answer words (str, case-insensitive; "w" its first occurrence, "w@k" the k-th, "w@all" every one)
        and/or token positions (int); default every token.
        answer_ids / prompt_ids: the answer / the whole prompt as token ids, scored exactly (prompt_ids hold one run of
        image placeholder ids, image_token, or found); target_ids: ids scored at the targets instead of the answer's.
        image_fit: 'native' | 'crop' (LLaVA-1.5's Hugging Face centre crop; fit_size: shortest side first) | 'pad'.
        max_tokens: most tokens generated (the reference's 128); a cut answer is logged as a warning.
        search: 'shortlist' (two-sided: at 11-13% of exact's evaluations, insertion AUC within 0.9% of exact's, deletion
        within 1.3% for captions and up to 1.19x for single words per held-out seed, measured) | 'efficient'
        (the reference's bidirectional windowed greedy: within 0.9% and 1.1% at 35%, words up to 1.33x) | 'exact' (the reference greedy) | 'lazy'
        (cheaper, less faithful; a budget, max_regions or stop_fraction, needs 'exact' or 'lazy');
        method: see ``eagle.methods()``.
        divisions: SLICO's division number D; regions: an HxW array of region ids (user regions) or a PNG path;
        grid: 'COLSxROWS' for a grid instead of superpixels. fill: what removed pixels become (black, mean, blur).
        target_text: explain this token instead of the answer's own (e.g. the correct answer of a hallucination);
        revise: also walk to the minimal correction region. ground_truth: keys copied into explanation.json
        for ``evaluate`` (location: box xyxy, segmentation: COCO polygons, label).
        more_images: further images of the prompt (paths), in order after ``image``: one ranking covers the regions
        of all of them (the prompt holds one <image> per image, or none).
        progress: True (tqdm when installed), False, or a callable(phase, n_done, n_total) returning False to stop.
        Ctrl-C stops the search and raises KeyboardInterrupt; the model stays usable.
        """
        path, array = self._image(image)
        request = _eagle.Request()
        request.image_path = path
        request.more_image_paths = [_check_file(p, "more_images") for p in more_images or []]
        request.prompt = prompt
        request.use_raw_prompt = bool(raw_prompt)
        request.answer_text = "" if answer is None else str(answer)
        if answer is not None and request.answer_text == "":
            raise ValueError("answer is empty: nothing to explain")
        request.max_tokens = int(max_tokens)
        request.append_eog = bool(eog)
        words, indices = [], []
        for t in targets or []:
            if isinstance(t, (int, _np.integer)) and not isinstance(t, bool):
                indices.append(int(t))
            elif isinstance(t, str):
                words.append(t)
            else:
                raise ValueError(f"targets: {t!r} is neither a word (str) nor a token position (int)")
        request.target_words = words
        request.target_indices = indices
        request.target_text = target_text or ""
        request.revise = bool(revise)
        request.answer_ids = [int(i) for i in answer_ids or []]
        request.prompt_ids = [int(i) for i in prompt_ids or []]
        request.image_token = int(image_token)
        request.target_token_ids = [int(i) for i in target_ids or []]
        request.set_fit(image_fit)
        request.fit_size = int(fit_size)
        request.set_fill(fill)
        labels_path, tmp = "", None
        kind = "grid" if grid is not None else "slico"
        if regions is not None:
            kind = "labels"
            if isinstance(regions, (str, _os.PathLike)):
                labels_path = _check_file(regions, "regions")
            else:
                tmp = _tempfile.TemporaryDirectory(prefix="eagle-regions-")
                labels_path = _os.path.join(tmp.name, "labels.png")
                _save_labels(_np.asarray(regions), labels_path)
        request.set_regions(kind, int(divisions), grid or "8x8", labels_path)
        request.set_search(method, search, float(lambda1), float(lambda2), int(seed), int(samples), int(max_regions),
                           float(stop_fraction), int(lazy_batch), float(lazy_epsilon), int(search_scope),
                           int(pending_samples), int(update_step))
        if ground_truth:
            request.set_ground_truth(_json.dumps(ground_truth))
        callback, bar = _progress(progress)
        try:
            record = self._model.explain(request, array, callback)
        finally:
            if bar is not None:
                bar.close()
            if tmp is not None:
                tmp.cleanup()
        return Explanation(record)

    def stats(self) -> dict:
        """The session's counters and timings so far."""
        return self._model.stats()


def _load_rgb(path: str) -> _np.ndarray:
    return _eagle.load_image(path)  # the library's decoder, as for explain()


def _save_labels(labels: _np.ndarray, path: str) -> None:
    if labels.ndim != 2 or not _np.issubdtype(labels.dtype, _np.integer):
        raise ValueError(f"regions: expected an HxW integer array of region ids, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 65535):
        raise ValueError("regions: region ids must lie in 0..65535")
    from PIL import Image

    Image.fromarray(labels.astype(_np.uint16)).save(path)


def _progress(progress):
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    bars: dict = {}

    def update(phase: str, n_done: int, n_total: int) -> bool:
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=n_total, desc=phase, unit="region" if phase == "search" else "answer")
        bar.n = n_done
        bar.refresh()
        return True

    class _Closer:
        def close(self):
            for b in bars.values():
                b.close()

    return update, _Closer()


def evaluate(items: Iterable[Union[Explanation, str, _os.PathLike]], *, sensitivity: float = 0.2,
             map: str = "attribution") -> dict:
    """The reference's evaluation numbers (insertion/deletion AUC, point game, AMCR, CSR@10%) over explanations
    held in memory and/or explanation folders (also the reference's json/ + npy/ layout), as ``eagle eval``."""
    items = list(items)
    records = [e._record for e in items if isinstance(e, Explanation)]
    dirs = [_os.fspath(p) for p in items if not isinstance(p, Explanation)]
    if records and dirs:
        raise ValueError("evaluate: give explanations or folders, not both in one call")
    if dirs:
        for d in dirs:
            if not _os.path.exists(d):
                raise FileNotFoundError(f"'{d}' does not exist")
        return _eagle.evaluate_dirs(dirs, float(sensitivity), map)
    if not records:
        raise ValueError("evaluate: no explanation given")
    return _eagle.evaluate_records(records, float(sensitivity), map)
