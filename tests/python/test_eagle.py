"""The Python package against the CLI and the library: same explanation for the same inputs, every input form,
the exception types, Ctrl-C, the report, the metrics, the notebook. Run by ctest through build/bin/eagle-python
(EAGLE_CLI names the eagle executable of the same build)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest

import eagle

CLI = os.environ.get("EAGLE_CLI", "")
SOURCE_DIR = os.environ.get("EAGLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DIVISIONS = 16  # small, so each explanation takes a second


@pytest.fixture(scope="module")
def model():
    return eagle.Model(blas=False)  # ggml's own kernels: results compared exactly with the CLI's (--no-blas)


@pytest.fixture(scope="module")
def sample_image():
    return eagle._eagle.default_image


@pytest.fixture(scope="module")
def explanation(model):
    return model.explain(divisions=DIVISIONS, progress=False)


def run_cli(*args):
    assert CLI, "EAGLE_CLI is not set (ctest sets it)"
    return subprocess.run([CLI, *args], capture_output=True, text=True, check=True)


def test_equals_the_cli_on_the_same_inputs(explanation, tmp_path):
    run_cli("explain", "-q", "--no-blas", "-D", str(DIVISIONS), "--out", str(tmp_path / "cli"))
    with open(tmp_path / "cli" / "explanation.json") as f:
        cli = json.load(f)
    e = explanation
    assert e.answer == cli["answer"]
    assert list(e.ranking) == cli["order"]
    np.testing.assert_array_equal(e.curves["insertion"], np.array(cli["insertion_score"], dtype=np.float32))
    np.testing.assert_array_equal(e.curves["deletion"], np.array(cli["deletion_score"], dtype=np.float32))
    np.testing.assert_array_equal(e.region_attribution, np.array(cli["region_attribution"], dtype=np.float32))
    assert [r["verdict"] for r in e.reliance] == [r["verdict"] for r in cli["reliance"]]
    # the JSON differs only where it records timings and the image source
    mine = e.to_dict()
    for j in (mine, cli):
        j.pop("t_search_us")
        for k in [k for k in j["run"]["scorer"] if k.startswith("t_")]:
            j["run"]["scorer"].pop(k)
    assert mine == cli


def test_workers_explain_as_one_team(explanation):
    # two single-thread workers split every batch: the same explanation (ggml's own kernels give a worker's
    # probabilities to the last bit), and the record says who scored
    # (bound to a CPU each while they score, the default, or left to the kernel)
    for pin_workers in (True, False):
        two = eagle.Model(blas=False, threads=2, workers=2, pin_workers=pin_workers).explain(divisions=DIVISIONS, progress=False)
        assert two.answer == explanation.answer
        np.testing.assert_array_equal(two.ranking, explanation.ranking)
        np.testing.assert_allclose(two.curves["insertion"], explanation.curves["insertion"], atol=1e-6)
        np.testing.assert_allclose(two.curves["deletion"], explanation.curves["deletion"], atol=1e-6)
        assert two.to_dict()["run"]["workers"] == 2
    assert explanation.to_dict()["run"]["workers"] == 1
    with pytest.raises(ValueError, match="got 3"):
        eagle.Model(threads=2, workers=3)


def test_path_pil_and_array_inputs_agree(model, sample_image):
    from PIL import Image

    by_path = model.explain(sample_image, divisions=DIVISIONS, progress=False)
    with Image.open(sample_image) as img:
        by_pil = model.explain(img, divisions=DIVISIONS, progress=False)
        array = np.asarray(img.convert("RGB"))
    by_array = model.explain(array, divisions=DIVISIONS, progress=False)
    for e in (by_pil, by_array):
        assert e.answer == by_path.answer
        np.testing.assert_array_equal(e.ranking, by_path.ranking)
        np.testing.assert_array_equal(e.attribution, by_path.attribution)
    np.testing.assert_array_equal(by_array.image, array)


def test_shapes_of_maps_masks_and_curves(explanation):
    e = explanation
    h, w = e.image.shape[:2]
    assert e.attribution.shape == (h, w)
    assert e.attribution.dtype == np.float32
    assert 0.0 <= e.attribution.min() and e.attribution.max() <= 1.0
    masks = e.region_masks
    assert masks.shape == (len(e.ranking), h, w)
    assert (masks.sum(axis=0) == 1).all()  # the regions partition the image
    assert e.token_attr.shape == (len(e.target_indices), h, w)
    n = len(e.ranking)
    assert e.curves["insertion_per_token"].shape == (n, len(e.target_indices))
    assert e.n_evaluations > 0
    assert e.tokens[-1] == ""  # the end token is a target, as the reference explains sentences


def test_word_targets_and_reliance(model):
    e = model.explain(targets=["triangle"], divisions=DIVISIONS, progress=False)
    assert [e.tokens[i].strip() for i in e.target_indices] == ["triangle"]
    assert e.reliance[0]["word"].strip() == "triangle"
    assert e.reliance[0]["verdict"] in ("vision", "language")


def test_exception_types(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        model.explain(str(tmp_path / "nope.png"))
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        eagle.Model(str(tmp_path / "missing.gguf"), str(tmp_path / "missing-mmproj.gguf"))
    with pytest.raises(ValueError, match="division"):
        model.explain(divisions=0, progress=False)
    with pytest.raises(ValueError, match="sideways"):
        model.explain(search="sideways", progress=False)
    with pytest.raises(ValueError, match="purple"):
        model.explain(targets=["purple"], divisions=DIVISIONS, progress=False)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF this is not a model")
    with pytest.raises(RuntimeError):
        eagle.Model(str(bad), str(bad))
    with pytest.raises(ValueError, match="shape"):
        model.explain(np.zeros((4, 4, 5), dtype=np.uint8), progress=False)


def test_interrupt_leaves_the_model_usable(model):
    def stop(phase, n_done, n_total):
        if n_done >= 2:
            raise KeyboardInterrupt
        return True

    with pytest.raises(KeyboardInterrupt):
        model.explain(divisions=DIVISIONS, progress=stop)
    # a real Ctrl-C: SIGINT while the search runs
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.explain(divisions=64, search="exact", progress=False)
    timer.join()
    again = model.explain(divisions=DIVISIONS, progress=False)
    assert again.is_complete


def test_a_callback_can_cancel_and_sees_progress(model):
    seen = []

    def cancel(phase, n_done, n_total):
        seen.append((phase, n_done, n_total))
        return n_done < 3

    e = model.explain(divisions=DIVISIONS, progress=cancel)
    assert not e.is_complete
    # the default search (two-sided shortlist) ranks a region from each end per step; cancelled, the ranking is the
    # front's part of what was reported (the back's records still show the regions nobody took)
    assert seen and seen[0][0] == "search" and seen[-1][1] >= 3
    assert 2 <= len(e.ranking) <= seen[-1][1]
    assert len(e.curves["insertion"]) == len(e.ranking)
    assert ((0.0 <= e.region_attribution) & (e.region_attribution <= 1.0)).all()


def test_report_inline_is_the_saved_page(explanation, tmp_path):
    html = explanation._repr_html_()
    assert html.startswith("<!DOCTYPE html>")
    folder = explanation.save(tmp_path / "saved")
    with open(os.path.join(folder, "report.html"), encoding="utf-8") as f:
        assert f.read() == html
    for name in ("explanation.json", "regions.npy", "labels.png", "attribution.png"):
        assert os.path.exists(os.path.join(folder, name))


def test_evaluate_in_memory_equals_eagle_eval_on_the_folder(explanation, tmp_path):
    folder = explanation.save(tmp_path / "ev")
    in_memory = eagle.evaluate([explanation])
    from_folder = eagle.evaluate([folder])
    cli = json.loads(run_cli("eval", "--json", folder).stdout)
    assert in_memory == from_folder == cli
    assert set(explanation.metrics()) >= {"insertion_auc", "deletion_auc"}


def test_hallucination_diagnosis(model):
    probe = os.path.join(SOURCE_DIR, "data", "probe", "000019.png")
    e = model.explain(probe, "is there a green square ?", target_text="no", revise=True, divisions=DIVISIONS,
                      progress=False)
    h = e.hallucination
    assert h is not None and h["correct_answer"] == "no"
    assert len(h["revised_answering"]) == len(e.ranking)


def test_generate_and_the_mock_engine(model, sample_image):
    g = model.generate(sample_image)
    assert g.text == model.explain(sample_image, divisions=DIVISIONS, progress=False).answer
    assert g.tokens[-1]["is_eog"]
    mock = eagle.Model(engine="mock")
    quadrants = np.zeros((32, 32, 3), np.uint8)
    quadrants[:16, :16] = (200, 40, 40)
    e = mock.explain(quadrants, targets=["red"], grid="2x2", progress=False)
    assert e.ranking[0] == 0  # the red quadrant, top left


def test_user_regions(model, sample_image):
    from PIL import Image

    with Image.open(sample_image) as img:
        w, h = img.size
    labels = np.zeros((h, w), np.int32)
    labels[:, w // 2:] = 1
    e = model.explain(regions=labels, progress=False)
    assert sorted(e.ranking) == [0, 1]
    np.testing.assert_array_equal(e.labels, labels)


def test_the_notebook_runs_clean(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # the kernel must start the way this process did (build/bin/eagle-python), so it can import eagle
    launcher = os.environ.get("EAGLE_PYTHON", sys.executable)
    kernel_dir = tmp_path / "jupyter" / "kernels" / "eagle"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [launcher, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "eagle", "language": "python"}))
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    nb = nbformat.read(os.path.join(SOURCE_DIR, "examples", "notebook.ipynb"), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="eagle", timeout=600,
                                     resources={"metadata": {"path": SOURCE_DIR}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the report, inline
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the matplotlib map


def test_token_ids_and_image_fit_equal_the_cli(model, tmp_path):
    """answer_ids / prompt_ids / target_ids / image_fit reach the library as the CLI's options do."""
    e = model.explain(divisions=DIVISIONS, progress=False)
    scored = e.to_dict()["scored_tokens"]
    before, image, after = scored["prompt"]
    prompt_ids = before["text"] + [0] * 8 + after["text"]  # <unk> x 8 where the image goes
    answer_ids = list(scored["answer"])
    by_ids = model.explain(divisions=DIVISIONS, progress=False, prompt="not used", prompt_ids=prompt_ids,
                           answer_ids=answer_ids, targets=[1], target_ids=[answer_ids[1]], image_fit="crop")
    d = by_ids.to_dict()
    assert d["scored_tokens"]["prompt"] == scored["prompt"]  # the default image is square: crop changes nothing
    assert d["selected_interpretation_token_id"] == [1]
    run_cli("explain", "-q", "--no-blas", "-D", str(DIVISIONS), "--out", str(tmp_path / "cli"), "--prompt", "not used",
            "--prompt-ids", " ".join(map(str, prompt_ids)), "--answer-ids", ",".join(map(str, answer_ids)),
            "--target-index", "1", "--target-id", str(answer_ids[1]), "--image-fit", "crop")
    with open(tmp_path / "cli" / "explanation.json") as f:
        cli = json.load(f)
    assert cli["order"] == d["order"]
    assert cli["insertion_word_score"] == d["insertion_word_score"]
    assert cli["scored_tokens"] == d["scored_tokens"]
    # a word target is its first occurrence, "w@k" the k-th ("a" is the first token and the fifth)
    first = model.explain(divisions=DIVISIONS, progress=False, targets=["a"]).to_dict()
    second = model.explain(divisions=DIVISIONS, progress=False, targets=["a@2"]).to_dict()
    assert first["selected_interpretation_token_id"] == [0]
    assert second["selected_interpretation_token_id"][0] > 0


def test_system_and_chat_template_equal_the_cli(tmp_path):
    """system / chat_template reach the library as the CLI's --system / --chat-template do."""
    brief = eagle.Model(system="be brief")
    assert brief.chat_template == "llama.cpp"  # the ShapesWorld model keeps the chatml it was trained on
    assert brief.format_prompt("describe the image") == (
        "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\n<__media__>\ndescribe the image<|im_end|>\n"
        "<|im_start|>assistant\n")
    d = brief.explain(divisions=DIVISIONS, progress=False, answer="a red circle").to_dict()
    assert d["run"]["system"] == "be brief"
    run_cli("explain", "-q", "--no-blas", "-D", str(DIVISIONS), "--out", str(tmp_path / "cli"), "--system", "be brief",
            "--answer", "a red circle")
    with open(tmp_path / "cli" / "explanation.json") as f:
        cli = json.load(f)
    assert cli["scored_tokens"] == d["scored_tokens"]
    assert cli["order"] == d["order"]
    qwen = eagle.Model(chat_template="qwen2.5-vl", system=None)
    assert qwen.chat_template == "qwen2.5-vl"
    assert qwen.format_prompt("describe the image") == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<__media__>describe the image"
        "<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="qwen25"):
        eagle.Model(chat_template="qwen25")
