"""The LLaVA-style GGUF pair eagle runs (text model arch "llama" + mmproj arch "clip", projector "mlp"), in
PyTorch, float32, loaded from the GGUF files themselves: the reference-style baseline of BENCHMARKS.md.

The graph is llama.cpp's for these files, as src/export/gguf-vlm-writer.h records it (read from
tools/mtmd/clip.cpp + models/llava.cpp and llama.cpp's "llama" graph, and checked there numerically):
  vision  pixels (p/255 - mean)/std -> Conv2d patch embedding (+ bias) -> [class token APPENDED after the
          patches] -> + position embedding -> pre-LayerNorm -> the first n_layer-1 pre-norm blocks (LLaVA's
          second-to-last layer; the last block is never run) -> [drop row 0: with a class token llama.cpp returns
          patches 1..N-1 and the class token last] -> Linear -> GELU -> Linear
  text    token/image embeddings -> n_layer x (RMSNorm, causal MHA with RoPE on ADJACENT pairs ("NORM"),
          RMSNorm, SwiGLU) -> RMSNorm -> output (untied unless the file has none)
numerics="llama" (the default) also reproduces where llama.cpp's CPU path (Debian's llama.cpp 0.7.0) leaves
float32, each found by dumping its intermediate tensors (cb_eval) and matching them here to ~1e-6:
  * the patch embedding: ggml_conv_2d makes an f16 im2col, so pixels and kernel are rounded to f16;
  * ViT attention, only with libmtmd's flash attention (eagle turns it off on CPU; vision_flash_attn=True
    reproduces it): K and V cast to f16 (Q and the softmax stay f32);
  * GELU (ViT MLP and projector): ggml's f16 lookup table (input and result rounded to f16; |x| >= 10 passed
    through or zeroed);
  * text attention, only with an f16 KV cache (eagle's is f32 unless --kv-f16; kv_f16=True reproduces it):
    ggml's product with an f16 matrix rounds the other operand to f16, so Q, K, V and the softmax weights are
    all f16-rounded (float32 accumulation);
  * RoPE angles by repeated float32 multiplication, as ggml builds them.
Without these ("plain": float32 throughout, exact tanh GELU) probabilities differ from llama.cpp's by up to
~6e-4 on the ShapesWorld model; with them by ~2e-5 at the most sensitive token tested (p = 0.55).

What the authors' scoring does and this module does the same way (../shared/method/eagle-reference.md §1.2):
one masked image per full forward, the whole teacher-forced sequence (prompt + answer incl. its end token),
logits at every position, softmax over the whole vocabulary at rows pos-1, gather the target ids.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from gguf_reader import GGUFFile
from spm_tokenizer import SpmTokenizer

MEDIA_MARKER = "<__media__>"  # libmtmd's default marker; eagle writes it where the prompt's <image> is


def gelu_ggml(x):
    """ggml's CPU GELU (tanh form through a float16 lookup table)."""
    xh = x.half().float()
    y = F.gelu(xh, approximate="tanh").half().float()
    return torch.where(x <= -10.0, torch.zeros_like(x), torch.where(x >= 10.0, x, y))


def round_f16(x):
    """x rounded to float16 and back (round to nearest even, as F16C and torch both do)."""
    return x.half().float()


def gelu_exact(x):
    return F.gelu(x, approximate="tanh")


def rope_tables(n_pos, head_dim, freq_base):
    """cos/sin [n_pos, head_dim/2] of llama.cpp's NORM RoPE: theta_j(p) = p * s^j with s = base^(-2/d), built
    as ggml does, by repeated float32 multiplication from theta = p."""
    scale = np.float32(np.power(np.float32(freq_base), np.float32(-2.0) / np.float32(head_dim)))
    theta = np.arange(n_pos, dtype=np.float32)
    cols = []
    for _ in range(head_dim // 2):
        cols.append(theta.copy())
        theta = (theta * scale).astype(np.float32)
    ang = np.stack(cols, axis=1)
    return torch.from_numpy(np.cos(ang).astype(np.float32)), torch.from_numpy(np.sin(ang).astype(np.float32))


def apply_rope(x, cos, sin):
    """x [B, H, L, d]; rotates the adjacent pairs (x[2j], x[2j+1])."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


class TorchVLM:
    def __init__(self, model_path, mmproj_path, numerics="llama", kv_f16=False, vision_flash_attn=False):
        text, vis = GGUFFile(model_path), GGUFFile(mmproj_path)
        if text.get("general.architecture") != "llama":
            raise ValueError(f"'{model_path}': architecture '{text.get('general.architecture')}', expected 'llama'")
        if vis.get("general.architecture") != "clip" or vis.get("clip.projector_type") != "mlp":
            raise ValueError(f"'{mmproj_path}': expected a clip mmproj with projector 'mlp'")
        if numerics not in ("llama", "plain"):
            raise ValueError(f"numerics '{numerics}': expected 'llama' or 'plain'")
        self.numerics = numerics
        self.gelu = gelu_ggml if numerics == "llama" else gelu_exact
        self.r16 = round_f16 if numerics == "llama" else (lambda x: x)
        llama = numerics == "llama"
        # the f16 KV cache: K, V, and with them Q and the softmax weights f16 (ggml's CPU product)
        self.kv16 = round_f16 if (llama and kv_f16) else (lambda x: x)
        self.qp_f16 = llama and kv_f16
        self.vfa16 = round_f16 if (llama and vision_flash_attn) else (lambda x: x)
        self.tokenizer = SpmTokenizer(text)
        self.chat_template = text.get("tokenizer.chat_template", "")
        t = lambda name: torch.from_numpy(np.array(text.tensors[name]))  # noqa: E731 (a copy: writable)
        v = lambda name: torch.from_numpy(np.array(vis.tensors[name]))  # noqa: E731

        # text model
        self.n_embd = text.require("llama.embedding_length")
        self.n_head = text.require("llama.attention.head_count")
        self.n_head_kv = text.get("llama.attention.head_count_kv", self.n_head)
        self.head_dim = self.n_embd // self.n_head
        self.rms_eps = float(np.float32(text.require("llama.attention.layer_norm_rms_epsilon")))
        self.freq_base = float(text.get("llama.rope.freq_base", 10000.0))
        n_layer = text.require("llama.block_count")
        self.tok_embd = t("token_embd.weight")
        self.layers = []
        for i in range(n_layer):
            p = f"blk.{i}."
            self.layers.append({k: t(p + k + ".weight") for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")})
        self.out_norm = t("output_norm.weight")
        self.out = t("output.weight") if "output.weight" in text.tensors else self.tok_embd

        # vision tower + projector
        self.image_size = vis.require("clip.vision.image_size")
        self.patch_size = vis.require("clip.vision.patch_size")
        self.v_n_head = vis.require("clip.vision.attention.head_count")
        self.v_eps = float(np.float32(vis.require("clip.vision.attention.layer_norm_epsilon")))
        if not vis.get("clip.use_gelu", False):
            raise ValueError(f"'{mmproj_path}': clip.use_gelu is not set (quick_gelu ViTs are not implemented)")
        if "v.post_ln.weight" in vis.tensors:
            raise ValueError(f"'{mmproj_path}': has v.post_ln (not written by eagle's GGUF writer; not implemented)")
        self.mean = torch.tensor(vis.require("clip.vision.image_mean"), dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(vis.require("clip.vision.image_std"), dtype=torch.float32).view(1, 3, 1, 1)
        self.patch_w, self.patch_b = v("v.patch_embd.weight"), v("v.patch_embd.bias")
        self.patch_w16 = self.r16(self.patch_w)
        self.class_embd = v("v.class_embd") if "v.class_embd" in vis.tensors else None
        self.pos_embd = v("v.position_embd.weight")
        self.pre_ln = (v("v.pre_ln.weight"), v("v.pre_ln.bias"))
        v_n_layer = vis.require("clip.vision.block_count")
        self.v_layers = []
        for i in range(v_n_layer - 1):  # llama.cpp runs all but the last block for projector mlp
            p = f"v.blk.{i}."
            self.v_layers.append({k: v(p + k) for k in (
                "ln1.weight", "ln1.bias", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias",
                "attn_v.weight", "attn_v.bias", "attn_out.weight", "attn_out.bias", "ln2.weight", "ln2.bias",
                "ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias")})
        self.mm0 = (v("mm.0.weight"), v("mm.0.bias"))
        self.mm2 = (v("mm.2.weight"), v("mm.2.bias"))
        self.n_image_tokens = (self.image_size // self.patch_size) ** 2
        # every tensor in the pair, the ViT's never-run last block included
        self.n_params = sum(a.size for f in (text, vis) for a in f.tensors.values())

    # --- prompt --------------------------------------------------------------------------------------------
    def format_prompt(self, prompt):
        """The user turn as eagle formats it (src/backends/llama/llama-model.cpp format_prompt): the image first
        unless the prompt places <image>, then the chat template. Only chatml is implemented (our models')."""
        content = prompt.replace("<image>", MEDIA_MARKER) if "<image>" in prompt else MEDIA_MARKER + "\n" + prompt
        if "<|im_start|>" not in self.chat_template:
            raise ValueError("the model's chat template is not chatml; only chatml is implemented")
        return "<|im_start|>user\n" + content + "<|im_end|>\n<|im_start|>assistant\n"

    def sequence(self, prompt, answer_ids):
        """(ids before the image, ids after the image incl. the answer, index of the first answer token in
        the full sequence)."""
        before, after = self.format_prompt(prompt).split(MEDIA_MARKER)
        pre = self.tokenizer.encode(before, add_bos=True)
        post = self.tokenizer.encode(after) + list(answer_ids)
        answer_start = len(pre) + self.n_image_tokens + len(post) - len(answer_ids)
        return pre, post, answer_start

    # --- vision ----------------------------------------------------------------------------------------------
    def _linear(self, x, wb):
        return F.linear(x, wb[0], wb[1])

    def encode_image(self, rgb_u8):
        """rgb_u8: [B, H, W, 3] uint8 tensor of image_size x image_size -> image embeddings [B, N, n_embd]."""
        b, h, w, _ = rgb_u8.shape
        if h != self.image_size or w != self.image_size:
            raise ValueError(f"image is {w}x{h}; this baseline takes {self.image_size}x{self.image_size} images "
                             "(libmtmd resizes others; that resize is not reproduced here)")
        x = (rgb_u8.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std
        # ggml's conv_2d: an f16 im2col of the pixels, and the kernel rounded to f16 for the product
        x = F.conv2d(self.r16(x), self.patch_w16, self.patch_b, stride=self.patch_size)  # [B, e, H/P, W/P]
        x = x.flatten(2).transpose(1, 2)  # [B, N, e], patches row-major
        if self.class_embd is not None:
            x = torch.cat([x, self.class_embd.view(1, 1, -1).expand(b, 1, -1)], dim=1)
        x = x + self.pos_embd
        x = F.layer_norm(x, x.shape[-1:], self.pre_ln[0], self.pre_ln[1], self.v_eps)
        n, e = x.shape[1], x.shape[2]
        hd = e // self.v_n_head
        for L in self.v_layers:
            a = F.layer_norm(x, (e,), L["ln1.weight"], L["ln1.bias"], self.v_eps)
            q = F.linear(a, L["attn_q.weight"], L["attn_q.bias"]).view(b, n, self.v_n_head, hd).transpose(1, 2)
            k = F.linear(a, L["attn_k.weight"], L["attn_k.bias"]).view(b, n, self.v_n_head, hd).transpose(1, 2)
            vv = F.linear(a, L["attn_v.weight"], L["attn_v.bias"]).view(b, n, self.v_n_head, hd).transpose(1, 2)
            k, vv = self.vfa16(k), self.vfa16(vv)  # libmtmd's flash attention casts K and V to f16
            att = torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)), dim=-1)
            o = (att @ vv).transpose(1, 2).reshape(b, n, e)
            x = x + F.linear(o, L["attn_out.weight"], L["attn_out.bias"])
            m = F.layer_norm(x, (e,), L["ln2.weight"], L["ln2.bias"], self.v_eps)
            x = x + F.linear(self.gelu(F.linear(m, L["ffn_up.weight"], L["ffn_up.bias"])),
                             L["ffn_down.weight"], L["ffn_down.bias"])
        if self.class_embd is not None:
            x = x[:, 1:]  # llama.cpp's rows 1..N: patch 0 dropped, the class token last
        return self._linear(self.gelu(self._linear(x, self.mm0)), self.mm2)

    # --- text ------------------------------------------------------------------------------------------------
    def _rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.rms_eps) * w

    def qp16(self, x):
        return self.r16(x) if self.qp_f16 else x

    def decode(self, embd):
        """embd [B, L, n_embd] -> logits [B, L, n_vocab] (every position, as a HF forward returns them)."""
        b, n, _ = embd.shape
        if not hasattr(self, "_rope") or self._rope[0].shape[0] < n:
            self._rope = rope_tables(max(n, 256), self.head_dim, self.freq_base)
        cos, sin = self._rope[0][:n], self._rope[1][:n]
        causal = torch.full((n, n), float("-inf")).triu(1)
        rep = self.n_head // self.n_head_kv
        h = embd
        for L in self.layers:
            a = self._rms(h, L["attn_norm"])
            q = F.linear(a, L["attn_q"]).view(b, n, self.n_head, self.head_dim).transpose(1, 2)
            k = F.linear(a, L["attn_k"]).view(b, n, self.n_head_kv, self.head_dim).transpose(1, 2)
            v = F.linear(a, L["attn_v"]).view(b, n, self.n_head_kv, self.head_dim).transpose(1, 2)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            if rep > 1:
                k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            # the f16 KV cache; ggml's CPU product with an f16 matrix rounds the other operand to f16 too
            k, v = self.kv16(k), self.kv16(v)
            if self.qp_f16:
                q = self.r16(q)
            att = self.qp16(torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim)) + causal, dim=-1))
            h = h + F.linear((att @ v).transpose(1, 2).reshape(b, n, -1), L["attn_output"])
            m = self._rms(h, L["ffn_norm"])
            h = h + F.linear(F.silu(F.linear(m, L["ffn_gate"])) * F.linear(m, L["ffn_up"]), L["ffn_down"])
        return F.linear(self._rms(h, self.out_norm), self.out)

    # --- scoring ---------------------------------------------------------------------------------------------
    def prepare(self, prompt, answer_ids, target_indices=None):
        """Fix the text of every later score() call: the prompt, the teacher-forced answer ids, and which answer
        tokens are targets (default: all)."""
        pre, post, answer_start = self.sequence(prompt, answer_ids)
        self._pre = self.tok_embd[torch.tensor(pre, dtype=torch.long)]
        self._post = self.tok_embd[torch.tensor(post, dtype=torch.long)]
        idx = list(range(len(answer_ids))) if target_indices is None else list(target_indices)
        self._rows = torch.tensor([answer_start + i - 1 for i in idx], dtype=torch.long)
        self._ids = torch.tensor([answer_ids[i] for i in idx], dtype=torch.long)
        self.n_seq_tokens = len(pre) + self.n_image_tokens + len(post)

    def flop_per_evaluation(self):
        """Multiply-adds x 2 of one evaluation as the floor needs it (after prepare()): the ViT blocks that run,
        the projector, every text layer over the whole sequence, causal attention, and the output matrix at the
        target rows only (the baseline's forward computes it at every row: that is not part of the floor)."""
        n_patch, e = self.n_image_tokens, self.patch_w.shape[0]
        n_v = n_patch + (1 if self.class_embd is not None else 0)
        flop = 2 * self.patch_w.numel() * n_patch
        for L in self.v_layers:
            flop += 2 * n_v * sum(L[k].numel() for k in L if k.endswith(".weight") and L[k].dim() == 2)
            flop += 2 * 2 * n_v * n_v * e  # Q K^T and att V
        flop += 2 * n_patch * (self.mm0[0].numel() + self.mm2[0].numel())
        n = self.n_seq_tokens
        for L in self.layers:
            flop += 2 * n * sum(L[k].numel() for k in L if L[k].dim() == 2)
            flop += 2 * 2 * self.n_head * self.head_dim * n * (n + 1) // 2
        flop += 2 * self.out.numel() * len(self._rows)
        return int(flop)

    @torch.no_grad()
    def score_one(self, rgb_u8):
        """One (masked) HxWx3 uint8 image -> target probabilities [T] (float64): one full forward."""
        img = torch.as_tensor(rgb_u8).unsqueeze(0)
        embd = torch.cat([self._pre.unsqueeze(0), self.encode_image(img), self._post.unsqueeze(0)], dim=1)
        logits = self.decode(embd)[0]
        probs = torch.softmax(logits[self._rows].double(), dim=-1)
        return probs.gather(1, self._ids.view(-1, 1)).view(-1)
