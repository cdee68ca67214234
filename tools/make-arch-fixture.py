#!/usr/bin/env python3
"""eagle-make-arch-fixture: a tiny random-weight GGUF pair (text model + mmproj) with the tensor layout and
hyperparameters libllama + libmtmd (llama.cpp 0.7.0) expect for one vision-language architecture.

    make-arch-fixture.py --arch qwen2.5-vl --vocab-from fixture-model.gguf --out DIR [--seed N]

writes DIR/<arch>-model.gguf and DIR/<arch>-mmproj.gguf, a few hundred KB each, byte-identical for one seed.
The vocabulary is the one eagle-make-fixture wrote (word-level SentencePiece, every word one token), plus the
control tokens the family's chat template writes. Only whole-word tokens and the end tokens have output rows,
so the model's greedy answer is a sequence of words. The chat template written names the family by the tokens
eagle's detect_chat_family looks for (MiniCPM-V by its model name, as the real one), so `eagle explain` renders the
family's Hugging Face prompt. Texts libmtmd looks up as single tokens are in the vocabulary ("pieces").

The layouts were read from llama.cpp's src/llama-model.cpp (text) and tools/mtmd/clip.cpp + models/*.cpp
(vision) and are checked by loading the pair and running it (tests/test-arch.cpp); docs/README-dev.md lists
what each architecture covers. Runs on llama.cpp's own GGUF library (python3-gguf, provisioned into the private
prefix by scripts/provision-llama.sh) and numpy.
"""
import argparse
import sys

import numpy as np
import gguf

# words the answers are made of (each is one token, "▁word", in eagle-make-fixture's vocabulary)
ANSWER_WORDS = ["a", "the", "red", "green", "blue", "yellow", "black", "white", "circle", "square", "triangle",
                "shape", "shapes", "and", "is", "are", "there", "of", "in", "on", "left", "right", "top",
                "bottom", "big", "small", "one", "two", "three", "yes", "no", "."]

TEXT_EMBD, TEXT_HEADS, TEXT_KV_HEADS, TEXT_FF, TEXT_LAYERS = 64, 4, 2, 96, 2
VIS_EMBD, VIS_HEADS, VIS_FF, VIS_LAYERS = 32, 4, 48, 2
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
HALF_MEAN = [0.5, 0.5, 0.5]
ROPE_SECTIONS = [2, 3, 3, 0]  # M-RoPE: of the d/2 rotated pairs, time, height, width
N_VOCAB = 0                   # > 0: pad the vocabulary with unused tokens to this size (real-size memory)
WINDOW_PATTERN, WINDOW_SIZE = 2, 32  # qwen2.5-vl: every n-th ViT block attends to the whole image

# --dims: the dimensions of a released model, for cost and memory measurements (BENCHMARKS.md "Real sizes").
# Random weights cost what trained ones cost; the answers are still words (the output rows are the fixture's).
REAL_DIMS = {
    # Qwen/Qwen2.5-VL-3B-Instruct config.json: hidden 2048, 36 layers, 16 heads / 2 KV heads, ff 11008,
    # vocab 151,936; ViT 1280 wide, 32 blocks, 16 heads, ff 3420, full attention every 8th block, window 112 px
    "qwen2.5-vl-3b": dict(arch="qwen2.5-vl", TEXT_EMBD=2048, TEXT_LAYERS=36, TEXT_HEADS=16, TEXT_KV_HEADS=2,
                          TEXT_FF=11008, N_VOCAB=151936, VIS_EMBD=1280, VIS_LAYERS=32, VIS_HEADS=16, VIS_FF=3420,
                          ROPE_SECTIONS=[16, 24, 24, 0], WINDOW_PATTERN=8, WINDOW_SIZE=112, patch=14,
                          image_size=560),
}

# architecture -> text arch, its options, the projector and its options, the family's template markers
ARCHS = {
    "llava-1.5": dict(text="llama", projector="mlp", patch=8, image_size=32,
                      template="{{ 'USER: <image>' }} ASSISTANT:", controls=[]),
    "qwen2-vl": dict(text="qwen2vl", qkv_bias=True, mrope=True, projector="qwen2vl_merger", patch=8,
                     image_size=64, template="<|im_start|><|vision_start|>{{ 'You are a helpful assistant.' }}",
                     controls=["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                               "<|image_pad|>"]),
    "qwen2.5-vl": dict(text="qwen2vl", qkv_bias=True, mrope=True, projector="qwen2.5vl_merger", patch=8,
                       image_size=64, template="<|im_start|><|vision_start|>{{ 'You are a helpful assistant.' }}",
                       controls=["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                                 "<|image_pad|>"]),
    "qwen3-vl": dict(text="qwen3vl", qk_norm=True, mrope=True, projector="qwen3vl_merger", patch=8,
                     image_size=64, template="<|im_start|><|vision_start|>",
                     controls=["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                               "<|image_pad|>"]),
    "gemma3": dict(text="gemma3", qk_norm=True, projector="gemma3", patch=8, image_size=64, n_layer=6,
                   template="<start_of_turn>user\n", controls=["<start_of_turn>", "<end_of_turn>",
                                                                "<start_of_image>", "<end_of_image>"]),
    "smolvlm": dict(text="llama", projector="idefics3", patch=8, image_size=32,
                    template="<|im_start|>User:<end_of_utterance>",
                    controls=["<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>",
                              "<global-img>"] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)],
                    pieces=["\n\n"]),  # libmtmd looks the overview's "\n\n" up as one token (SmolLM's has one)
    "internvl": dict(text="qwen2", qkv_bias=True, projector="internvl", patch=8, image_size=32,
                     template="<|im_start|><IMG_CONTEXT>", controls=["<|im_start|>", "<|im_end|>", "<img>",
                                                                     "</img>", "<IMG_CONTEXT>"]),
    "pixtral": dict(text="llama", projector="pixtral", patch=8, image_size=64,
                    template="[INST][IMG][/INST]", controls=["[INST]", "[/INST]", "[IMG]", "[IMG_BREAK]",
                                                             "[IMG_END]"]),
    # MiniCPM-V 2.6: ChatML, so eagle knows the family by the model's name; the resampler's attention has
    # 128-wide heads, so the text model is 128 wide (one resampler head)
    "minicpm-v-2.6": dict(text="qwen2", qkv_bias=True, n_embd=128, projector="resampler", minicpmv_version=3,
                          query_num=16, patch=8, image_size=64, name="MiniCPM-V-2_6 eagle fixture",
                          template="<|im_start|>user\n", controls=["<|im_start|>", "<|im_end|>", "<image>",
                                                                   "</image>", "<slice>", "</slice>"]),
    # Llama 4: four layers, so that the MoE layers interleave with dense ones (every second layer: 4 routed
    # experts, top-1, and a shared one) and layer 3 is llama.cpp's full-attention layer without RoPE; libmtmd
    # 0.7.0 writes the 32 px tiles and the overview back to back between <|image_start|> and <|image_end|>
    "llama4": dict(text="llama4", n_layer=4, n_expert=4, n_expert_used=1, expert_ff=32, moe_every=2,
                   projector="llama4", patch=8,
                   image_size=32, template="<|header_start|>user<|header_end|>\n\n",
                   controls=["<|begin_of_text|>", "<|header_start|>", "<|header_end|>", "<|eot|>",
                             "<|image_start|>", "<|image_end|>"]),
}


class Rng:
    """Deterministic weights: numpy's PCG64 from the seed and the tensor's name, so a tensor's values do not
    depend on which other tensors an architecture has."""

    def __init__(self, seed):
        self.seed = seed

    def normal(self, name, shape, std):
        digest = sum((i + 1) * ord(c) for i, c in enumerate(name)) & 0xFFFFFFFF
        gen = np.random.Generator(np.random.PCG64([self.seed, digest]))
        return (gen.standard_normal(size=shape) * std).astype(np.float32)


class TensorSet:
    """Tensors to write, shapes in PyTorch order (the reverse of ggml's ne)."""

    dtype = np.float32  # of the matrices (--f16); vectors stay float32, as llama.cpp's converter writes them

    def __init__(self, rng, scale):
        self.rng, self.scale, self.tensors = rng, scale, []

    def matrix(self, name, n_in, n_out):  # nn.Linear [out, in] = ggml {in, out}
        self.tensors.append((name, self.rng.normal(name, (n_out, n_in), self.scale / np.sqrt(n_in)).astype(self.dtype)))

    def vector(self, name, n, std=None):
        self.tensors.append((name, self.rng.normal(name, (n,), 0.1 * self.scale if std is None else std)))

    def ones(self, name, n):
        self.tensors.append((name, np.ones((n,), dtype=np.float32)))

    def raw(self, name, array, dtype=None):  # by default embeddings and output rows are matrices too
        if dtype is None:
            dtype = self.dtype if array.ndim == 2 else np.float32
        self.tensors.append((name, array.astype(dtype)))

    def linear(self, name, n_in, n_out, bias=True):
        self.matrix(name + ".weight", n_in, n_out)
        if bias:
            self.vector(name + ".bias", n_out)

    def norm(self, name, n, bias=True):
        self.ones(name + ".weight", n)
        if bias:
            self.vector(name + ".bias", n, std=0.0)


def read_vocab(path):
    """The tokenizer fields of eagle-make-fixture's model: (key, value, type, sub type) to copy, and the tokens."""
    reader = gguf.GGUFReader(path)
    fields, tokens, types = [], None, None
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.") or key == "tokenizer.chat_template":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        fields.append((key, value, vtype, sub))
        if key == "tokenizer.ggml.tokens":
            tokens = list(value)
        elif key == "tokenizer.ggml.token_type":
            types = list(value)
    return fields, tokens, types


def write_vocab(writer, fields, extra_controls, extra_pieces, template):
    """Copies the fixture's tokenizer, appending the family's control tokens and the text pieces its image
    layout looks up as single tokens; returns the token list."""
    tokens = scores = types = None
    for key, value, vtype, sub in fields:
        if key == "tokenizer.ggml.tokens":
            tokens = list(value)
        elif key == "tokenizer.ggml.scores":
            scores = list(value)
        elif key == "tokenizer.ggml.token_type":
            types = list(value)
    for control in extra_controls:
        if control not in tokens:
            tokens.append(control)
            scores.append(0.0)
            types.append(int(gguf.TokenType.CONTROL))
    for piece in extra_pieces:  # normal tokens, scored like the fixture's merges (a piece's length)
        if piece not in tokens:
            tokens.append(piece)
            scores.append(float(len(piece)))
            types.append(int(gguf.TokenType.NORMAL))
    for i in range(len(tokens), N_VOCAB):
        tokens.append(f"<unused_{i}>")
        scores.append(0.0)
        types.append(int(gguf.TokenType.UNUSED))
    for key, value, vtype, sub in fields:
        if key == "tokenizer.ggml.tokens":
            value = tokens
        elif key == "tokenizer.ggml.scores":
            value = scores
        elif key == "tokenizer.ggml.token_type":
            value = types
        writer.add_key_value(key, value, vtype, sub)
    writer.add_chat_template(template)
    return tokens


def output_rows(tokens, rng, scale, n_embd):
    """The output layer: random rows for whole answer words and the end tokens, zero rows for everything else
    (word pieces, bytes, controls), so that the greedy choice is always a word or the end."""
    words = {"\u2581" + w for w in ANSWER_WORDS} | {"</s>", "<|im_end|>", "<end_of_turn>",
                                                    "<end_of_utterance>"}
    weights = rng.normal("output.weight", (len(tokens), n_embd), scale / np.sqrt(n_embd))
    keep = np.array([t in words for t in tokens])
    weights[~keep] = 0.0
    return weights


def text_model(arch, spec, tokens, rng, scale, n_deepstack):
    t = TensorSet(rng, scale)
    n_embd = spec.get("n_embd", TEXT_EMBD)
    n_vocab, d = len(tokens), n_embd // TEXT_HEADS
    t.raw("token_embd.weight", rng.normal("token_embd.weight", (n_vocab, n_embd), scale))
    for il in range(spec.get("n_layer", TEXT_LAYERS)):
        b = f"blk.{il}."
        t.norm(b + "attn_norm", n_embd, bias=False)
        t.linear(b + "attn_q", n_embd, TEXT_HEADS * d, bias=spec.get("qkv_bias", False))
        t.linear(b + "attn_k", n_embd, TEXT_KV_HEADS * d, bias=spec.get("qkv_bias", False))
        t.linear(b + "attn_v", n_embd, TEXT_KV_HEADS * d, bias=spec.get("qkv_bias", False))
        if spec.get("qk_norm"):
            t.norm(b + "attn_q_norm", d, bias=False)
            t.norm(b + "attn_k_norm", d, bias=False)
        t.linear(b + "attn_output", TEXT_HEADS * d, n_embd, bias=False)
        if arch == "gemma3":
            t.norm(b + "post_attention_norm", n_embd, bias=False)
        t.norm(b + "ffn_norm", n_embd, bias=False)
        if spec.get("moe_every") and (il + 1) % spec["moe_every"] == 0:
            n_expert = spec["n_expert"]
            t.linear(b + "ffn_gate_inp", n_embd, n_expert, bias=False)
            n_ff = spec["expert_ff"]
            for proj, n_in, n_out in (("gate", n_embd, n_ff), ("up", n_embd, n_ff), ("down", n_ff, n_embd)):
                name = b + f"ffn_{proj}_exps.weight"  # ggml {n_in, n_out, n_expert}
                t.raw(name, rng.normal(name, (n_expert, n_out, n_in), scale / np.sqrt(n_in)))
                t.linear(b + f"ffn_{proj}_shexp", n_in, n_out, bias=False)
        else:
            t.linear(b + "ffn_gate", n_embd, TEXT_FF, bias=False)
            t.linear(b + "ffn_up", n_embd, TEXT_FF, bias=False)
            t.linear(b + "ffn_down", TEXT_FF, n_embd, bias=False)
        if arch == "gemma3":
            t.norm(b + "post_ffw_norm", n_embd, bias=False)
    t.norm("output_norm", n_embd, bias=False)
    t.raw("output.weight", output_rows(tokens, rng, scale, n_embd))
    return t


def write_text(path, name, spec, fields, rng, scale, n_deepstack):
    arch = spec["text"]
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    w.add_context_length(1024)
    n_embd = spec.get("n_embd", TEXT_EMBD)
    w.add_embedding_length(n_embd)
    w.add_block_count(spec.get("n_layer", TEXT_LAYERS))
    w.add_feed_forward_length(TEXT_FF)
    w.add_head_count(TEXT_HEADS)
    w.add_head_count_kv(TEXT_KV_HEADS)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    d = n_embd // TEXT_HEADS
    if spec.get("mrope"):
        w.add_rope_dimension_sections(ROPE_SECTIONS)
    if arch == "gemma3":
        # layers 0-4 attend within a window shorter than the image (16 tokens), layer 5 to everything
        # (llama.cpp's Gemma 3 pattern: every sixth layer global)
        w.add_sliding_window(8)
        w.add_key_length(d)
        w.add_value_length(d)
    if n_deepstack:
        w.add_uint32(f"{arch}.n_deepstack_layers", n_deepstack)
    if spec.get("moe_every"):
        w.add_expert_count(spec["n_expert"])
        w.add_expert_used_count(spec["n_expert_used"])
        w.add_expert_feed_forward_length(spec["expert_ff"])
        w.add_interleave_moe_layer_step(spec["moe_every"])
    tokens = write_vocab(w, fields, spec["controls"], spec.get("pieces", []), spec["template"])
    for tname, array in text_model(arch, spec, tokens, rng, scale, n_deepstack).tensors:
        w.add_tensor(tname, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def vit_blocks(t, projector, n_layer):
    rms = projector in ("qwen2.5vl_merger", "pixtral")
    gated = projector in ("qwen2.5vl_merger", "pixtral")
    bias = projector != "pixtral"
    for il in range(n_layer):
        b = f"v.blk.{il}."
        t.norm(b + "ln1", VIS_EMBD, bias=not rms)
        if projector == "qwen3vl_merger":  # one fused q/k/v product
            t.linear(b + "attn_qkv", VIS_EMBD, 3 * VIS_EMBD)
        else:
            for proj in ("attn_q", "attn_k", "attn_v"):
                t.linear(b + proj, VIS_EMBD, VIS_EMBD, bias=bias)
        t.linear(b + "attn_out", VIS_EMBD, VIS_EMBD, bias=bias)
        if projector == "internvl":
            t.vector(b + "ls1.weight", VIS_EMBD, std=1.0)
            t.vector(b + "ls2.weight", VIS_EMBD, std=1.0)
        t.norm(b + "ln2", VIS_EMBD, bias=not rms)
        if gated:
            t.linear(b + "ffn_gate", VIS_EMBD, VIS_FF, bias=bias)
        t.linear(b + "ffn_up", VIS_EMBD, VIS_FF, bias=bias)
        t.linear(b + "ffn_down", VIS_FF, VIS_EMBD, bias=bias)


def conv(t, name, patch, n_out):  # nn.Conv2d [out, 3, p, p] = ggml {p, p, 3, out}
    t.raw(name, t.rng.normal(name, (n_out, 3, patch, patch), t.scale / np.sqrt(3 * patch * patch)))


def vision_model(spec, rng, scale, n_text):
    t = TensorSet(rng, scale)
    proj, patch, size = spec["projector"], spec["patch"], spec["image_size"]
    n_patches = (size // patch) ** 2
    if proj.startswith("qwen"):
        conv(t, "v.patch_embd.weight", patch, VIS_EMBD)
        conv(t, "v.patch_embd.weight.1", patch, VIS_EMBD)
        if proj == "qwen3vl_merger":
            t.vector("v.patch_embd.bias", VIS_EMBD)
            t.raw("v.position_embd.weight", rng.normal("v.position_embd.weight", (n_patches, VIS_EMBD), scale))
        vit_blocks(t, proj, VIS_LAYERS)
        t.norm("v.post_ln", VIS_EMBD, bias=proj != "qwen2.5vl_merger")
        t.linear("mm.0", 4 * VIS_EMBD, 4 * VIS_EMBD)
        t.linear("mm.2", 4 * VIS_EMBD, n_text)
        if proj == "qwen3vl_merger":
            b = "v.deepstack.0."
            t.norm(b + "norm", 4 * VIS_EMBD)
            t.linear(b + "fc1", 4 * VIS_EMBD, 4 * VIS_EMBD)
            t.linear(b + "fc2", 4 * VIS_EMBD, n_text)
    elif proj in ("gemma3", "idefics3"):
        conv(t, "v.patch_embd.weight", patch, VIS_EMBD)
        t.vector("v.patch_embd.bias", VIS_EMBD)
        t.raw("v.position_embd.weight", rng.normal("v.position_embd.weight", (n_patches, VIS_EMBD), scale))
        vit_blocks(t, proj, VIS_LAYERS)
        t.norm("v.post_ln", VIS_EMBD)
        if proj == "gemma3":
            t.ones("mm.soft_emb_norm.weight", VIS_EMBD)
            t.raw("mm.input_projection.weight",
                  rng.normal("mm.input_projection.weight", (VIS_EMBD, n_text), scale / np.sqrt(VIS_EMBD)))
        else:
            t.linear("mm.model.fc", 4 * VIS_EMBD, n_text, bias=False)
    elif proj == "mlp":  # LLaVA-1.5: CLIP ViT (the last block loaded, not run), two-layer GELU MLP
        conv(t, "v.patch_embd.weight", patch, VIS_EMBD)
        t.vector("v.patch_embd.bias", VIS_EMBD)
        t.raw("v.position_embd.weight", rng.normal("v.position_embd.weight", (n_patches, VIS_EMBD), scale))
        t.norm("v.pre_ln", VIS_EMBD)
        vit_blocks(t, proj, VIS_LAYERS + 1)
        t.linear("mm.0", VIS_EMBD, n_text)
        t.linear("mm.2", n_text, n_text)
    elif proj == "internvl":
        conv(t, "v.patch_embd.weight", patch, VIS_EMBD)
        t.vector("v.patch_embd.bias", VIS_EMBD)
        t.raw("v.class_embd", rng.normal("v.class_embd", (VIS_EMBD,), scale))
        t.raw("v.position_embd.weight", rng.normal("v.position_embd.weight", (n_patches + 1, VIS_EMBD), scale))
        vit_blocks(t, proj, VIS_LAYERS)
        t.norm("mm.model.mlp.0", 4 * VIS_EMBD)
        t.linear("mm.model.mlp.1", 4 * VIS_EMBD, n_text)
        t.linear("mm.model.mlp.3", n_text, n_text)
    elif proj == "resampler":  # SigLIP (positions bucketed on a 70 x 70 grid), one cross-attention to queries
        conv(t, "v.patch_embd.weight", patch, VIS_EMBD)
        t.vector("v.patch_embd.bias", VIS_EMBD)
        t.raw("v.position_embd.weight", rng.normal("v.position_embd.weight", (70 * 70, VIS_EMBD), scale),
              np.float16)  # half the size; ggml_get_rows reads F16
        vit_blocks(t, proj, VIS_LAYERS)
        t.norm("v.post_ln", VIS_EMBD)
        t.raw("resampler.query", rng.normal("resampler.query", (spec["query_num"], n_text), scale))
        t.linear("resampler.kv", VIS_EMBD, n_text, bias=False)
        for part in ("q", "k", "v", "out"):
            t.linear(f"resampler.attn.{part}", n_text, n_text)
        for part in ("q", "kv", "post"):
            t.norm(f"resampler.ln_{part}", n_text)
        t.linear("resampler.proj", n_text, n_text, bias=False)
        # loaded but not read (the graph computes its sinusoidal key positions): one row instead of 70 x 70
        t.raw("resampler.pos_embed_k", rng.normal("resampler.pos_embed_k", (1, n_text), scale))
    elif proj == "llama4":  # unfold-linear patches, class token, 2D RoPE ViT, pixel shuffle, GELU MLP
        name = "v.patch_embd.weight"  # a linear layer over unfolded patches: ggml {3 p p, n_embd}
        t.raw(name, rng.normal(name, (VIS_EMBD, 3 * patch * patch), scale / np.sqrt(3 * patch * patch)))
        t.raw("v.class_embd", rng.normal("v.class_embd", (VIS_EMBD,), scale))
        t.raw("v.position_embd.weight", rng.normal("v.position_embd.weight", (n_patches + 1, VIS_EMBD), scale))
        t.norm("v.pre_ln", VIS_EMBD)
        vit_blocks(t, proj, VIS_LAYERS)
        t.norm("v.post_ln", VIS_EMBD)
        t.linear("mm.model.mlp.1", 4 * VIS_EMBD, VIS_FF, bias=False)
        t.linear("mm.model.mlp.2", VIS_FF, VIS_FF, bias=False)
        t.linear("mm.model.fc", VIS_FF, n_text, bias=False)
    elif proj == "pixtral":
        conv(t, "v.patch_embd.weight", patch, VIS_EMBD)
        t.norm("v.pre_ln", VIS_EMBD, bias=False)
        vit_blocks(t, proj, VIS_LAYERS)
        t.linear("mm.1", VIS_EMBD, n_text)
        t.linear("mm.2", n_text, n_text)
        t.raw("v.token_embd.img_break", rng.normal("v.token_embd.img_break", (n_text,), scale))
    else:
        raise ValueError(f"no vision layout for projector {proj}")
    return t


def write_mmproj(path, name, spec, rng, scale, n_text):
    proj = spec["projector"]
    w = gguf.GGUFWriter(path, "clip")
    w.add_name(name + " mmproj")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_string("clip.projector_type", proj)
    w.add_uint32("clip.vision.image_size", spec["image_size"])
    w.add_uint32("clip.vision.patch_size", spec["patch"])
    w.add_uint32("clip.vision.embedding_length", VIS_EMBD)
    w.add_uint32("clip.vision.feed_forward_length", VIS_FF)
    w.add_uint32("clip.vision.projection_dim", n_text)
    w.add_uint32("clip.vision.block_count", VIS_LAYERS + 1 if proj == "mlp" else VIS_LAYERS)
    w.add_uint32("clip.vision.attention.head_count", VIS_HEADS)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    mean, std = (CLIP_MEAN, CLIP_STD) if proj.startswith("qwen") else (HALF_MEAN, HALF_MEAN)
    w.add_array("clip.vision.image_mean", mean)
    w.add_array("clip.vision.image_std", std)
    if proj in ("qwen2.5vl_merger", "pixtral"):
        w.add_bool("clip.use_silu", True)
    elif proj != "qwen2vl_merger":
        w.add_bool("clip.use_gelu", True)
    if proj.startswith("qwen"):
        w.add_uint32("clip.vision.spatial_merge_size", 2)
    if proj == "qwen2.5vl_merger":
        # (tiny: block 0 attends in windows, block 1 to the whole image)
        w.add_uint32("clip.vision.n_wa_pattern", WINDOW_PATTERN)
        w.add_uint32("clip.vision.window_size", WINDOW_SIZE)
    if proj == "qwen3vl_merger":
        w.add_array("clip.vision.is_deepstack_layers", [True, False])
    if proj in ("gemma3", "idefics3", "internvl", "llama4"):
        w.add_uint32("clip.vision.projector.scale_factor", 2)
    if proj == "idefics3":
        w.add_uint32("clip.vision.preproc_image_size", 2 * spec["image_size"])  # tiles of a 2x2 grid
    if proj == "internvl":
        w.add_uint32("clip.vision.preproc_max_tiles", 4)
    if proj == "resampler":
        w.add_int32("clip.minicpmv_version", spec["minicpmv_version"])
        w.add_uint32("clip.minicpmv_query_num", spec["query_num"])
    for tname, array in vision_model(spec, rng, scale, n_text).tensors:
        w.add_tensor(tname, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument("--vocab-from", required=True, help="eagle-make-fixture's fixture-model.gguf")
    parser.add_argument("--out", required=True, help="folder for <arch>-model.gguf and <arch>-mmproj.gguf")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=2.0, help="weight scale (2: peaked next-token choices)")
    parser.add_argument("--dims", choices=sorted(REAL_DIMS),
                        help="a released model's dimensions instead of the tiny ones (gigabytes; for benchmarks)")
    parser.add_argument("--f16", action="store_true", help="matrices in float16 (as released models ship)")
    args = parser.parse_args()
    spec = dict(ARCHS[args.arch])
    if args.dims:
        dims = dict(REAL_DIMS[args.dims])
        if dims.pop("arch") != args.arch:
            parser.error(f"--dims {args.dims} is a {REAL_DIMS[args.dims]['arch']} model, not {args.arch}")
        for key in ("patch", "image_size"):
            spec[key] = dims.pop(key)
        globals().update(dims)
    if args.f16:
        TensorSet.dtype = np.float16
    fields, _, _ = read_vocab(args.vocab_from)
    rng = Rng(args.seed)
    n_deepstack = 1 if spec["projector"] == "qwen3vl_merger" else 0
    name = spec.get("name", f"eagle fixture {args.arch}")
    write_text(f"{args.out}/{args.arch}-model.gguf", name, spec, fields, rng, args.scale, n_deepstack)
    write_mmproj(f"{args.out}/{args.arch}-mmproj.gguf", name, spec, rng, args.scale,
                 spec.get("n_embd", TEXT_EMBD))
    return 0


if __name__ == "__main__":
    sys.exit(main())
