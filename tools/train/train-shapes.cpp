// eagle-train-shapes: trains the ShapesWorld VLM with libtorch (CPU) on scenes generated on the fly.
//
//   eagle-train-shapes --tokens tokens.txt --out DIR [--seed 1] [--steps 6000] [--batch 32] [--lr 2e-3]
//                      [--patch-loss 0.5] [--threads 2]
//
// Writes DIR/shapesworld-weights.bin (for eagle-export-shapes) and DIR/parity/ (a few images, their token
// sequences and this model's next-token probabilities: the reference tests/test-shapesworld-model.cpp
// compares llama.cpp against). Progress goes to stderr.
//
// The model is the graph llama.cpp runs for a LLaVA-style pair (see src/export/gguf-vlm-writer.h), written
// out by hand so that the exported GGUF computes the same function:
//   vision: pixels -> (p/255 - mean)/std -> Conv2d(P, stride P, bias) -> + learned positions -> pre-LayerNorm
//           -> v_n_layer pre-norm blocks (LayerNorm, MHA with biases, LayerNorm, MLP with tanh-GELU)
//           -> projector Linear -> tanh-GELU -> Linear
//   No class embedding: llama.cpp 0.7.0 appends the class token after the patches and drops patch 0 for
//   projector "mlp" (gguf-vlm-writer.h, "class-token quirk"), unlike CLIP; a model trained with CLIP's layout
//   would be run differently by llama.cpp, and one trained with llama.cpp's layout would change meaning if
//   upstream fixes it. Without it both agree and stay stable.
//   No post-LayerNorm: LLaVA takes the second-to-last layer; llama.cpp executes the first n_layer-1 blocks of
//   the file, so the file carries one extra all-zero block that never runs.
//   text: llama (token embedding, RMSNorm, RoPE "NORM" = adjacent pairs, causal MHA, SwiGLU, RMSNorm, untied
//   output), image embeddings in place of token embeddings at the image positions.
// The token sequence is exactly the one libmtmd builds for the chatml prompt:
//   <s> <|im_start|> user \n [image tokens] \n PROMPT <|im_end|> \n <|im_start|> assistant \n ANSWER <|im_end|>
// where the first word of a line is the bare word piece and later ones carry the "▁" space marker.
#include "eagle/image.h"
#include "eagle/shapes.h"
#include "shapes-model.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace sm = eagle::shapes_model;

// ---------------------------------------------------------------------------------------------------------
// tokens

struct vocabulary {
    std::unordered_map<std::string, int64_t> ids;
    int64_t n_vocab = 0;
    int64_t bos = 1, newline = 0, im_start = 0, im_end = 0, user = 0, assistant = 0;

    int64_t at(const std::string & piece) const {
        const auto it = ids.find(piece);
        if (it == ids.end()) {
            throw std::runtime_error("token '" + piece + "' is not in the vocabulary");
        }
        return it->second;
    }
    // the words of a line: the first as the bare piece, the others with the space marker
    void words(const std::string & text, std::vector<int64_t> & out) const {
        size_t start = 0;
        bool first = true;
        while (start <= text.size()) {
            size_t end = text.find(' ', start);
            if (end == std::string::npos) {
                end = text.size();
            }
            const std::string w = text.substr(start, end - start);
            if (!w.empty()) {
                out.push_back(at(first ? w : "\xE2\x96\x81" + w));
                first = false;
            }
            start = end + 1;
        }
    }
};

vocabulary read_vocabulary(const std::string & path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot read tokens file '" + path + "'");
    }
    vocabulary v;
    std::string line;
    while (std::getline(in, line)) {
        v.ids.emplace(line, v.n_vocab++);
    }
    v.newline = v.at("<0x0A>");
    v.im_start = v.at(sm::k_im_start);
    v.im_end = v.at(sm::k_im_end);
    v.user = v.at("user");
    v.assistant = v.at("assistant");
    if (v.at("<s>") != v.bos) {
        throw std::runtime_error("tokens file '" + path + "': <s> is not token 1");
    }
    return v;
}

// One (prompt, answer) after the image: "\n PROMPT <|im_end|> \n <|im_start|> assistant \n ANSWER <|im_end|>".
struct sequence {
    std::vector<int64_t> ids;
    int64_t answer_start = 0; // index of the first answer token in ids
};

sequence make_sequence(const vocabulary & v, const std::string & prompt, const std::string & answer) {
    sequence s;
    s.ids.push_back(v.newline);
    v.words(prompt, s.ids);
    for (int64_t id : {v.im_end, v.newline, v.im_start, v.assistant, v.newline}) {
        s.ids.push_back(id);
    }
    s.answer_start = int64_t(s.ids.size());
    v.words(answer, s.ids);
    s.ids.push_back(v.im_end);
    return s;
}

std::vector<int64_t> prefix_ids(const vocabulary & v) { return {v.bos, v.im_start, v.user, v.newline}; }

// ---------------------------------------------------------------------------------------------------------
// model

// classes of the training-only patch head: the 12 object categories (colour * 3 + shape), then background
constexpr int64_t k_background_class = int64_t(eagle::k_color_kinds.size() * eagle::k_shape_kinds.size());
constexpr int64_t k_patch_classes = k_background_class + 1;

torch::Tensor gelu_tanh(const torch::Tensor & x) { return torch::gelu(x, "tanh"); }

struct vit_block_impl : torch::nn::Module {
    torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
    torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr}, up{nullptr}, down{nullptr};
    int64_t n_head;

    vit_block_impl(const sm::config & c) : n_head(c.v_n_head) {
        const int64_t e = c.v_n_embd;
        ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({e}).eps(c.v_ln_eps)));
        ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({e}).eps(c.v_ln_eps)));
        q = register_module("q", torch::nn::Linear(e, e));
        k = register_module("k", torch::nn::Linear(e, e));
        v = register_module("v", torch::nn::Linear(e, e));
        o = register_module("o", torch::nn::Linear(e, e));
        up = register_module("up", torch::nn::Linear(e, c.v_n_ff));
        down = register_module("down", torch::nn::Linear(c.v_n_ff, e));
    }

    torch::Tensor forward(torch::Tensor x) {
        const int64_t B = x.size(0), T = x.size(1), E = x.size(2), dh = E / n_head;
        const torch::Tensor a = ln1(x);
        auto heads = [&](const torch::Tensor & t) { return t.view({B, T, n_head, dh}).transpose(1, 2); };
        const torch::Tensor qh = heads(q(a)), kh = heads(k(a)), vh = heads(v(a));
        const torch::Tensor p = torch::softmax(qh.matmul(kh.transpose(-2, -1)) / std::sqrt(double(dh)), -1);
        x = x + o(p.matmul(vh).transpose(1, 2).reshape({B, T, E}));
        return x + down(gelu_tanh(up(ln2(x))));
    }
};
TORCH_MODULE_IMPL(vit_block, vit_block_impl);

struct rms_norm_impl : torch::nn::Module {
    torch::Tensor weight;
    double eps;
    rms_norm_impl(int64_t n, double eps_) : eps(eps_) { weight = register_parameter("weight", torch::ones({n})); }
    torch::Tensor forward(const torch::Tensor & x) {
        return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * weight;
    }
};
TORCH_MODULE_IMPL(rms_norm, rms_norm_impl);

struct llama_block_impl : torch::nn::Module {
    rms_norm attn_norm{nullptr}, ffn_norm{nullptr};
    torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr}, gate{nullptr}, up{nullptr}, down{nullptr};
    int64_t n_head;

    llama_block_impl(const sm::config & c) : n_head(c.n_head) {
        const int64_t d = c.n_embd;
        auto lin = [](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
        attn_norm = register_module("attn_norm", rms_norm(d, c.rms_eps));
        ffn_norm = register_module("ffn_norm", rms_norm(d, c.rms_eps));
        q = register_module("q", lin(d, d));
        k = register_module("k", lin(d, d));
        v = register_module("v", lin(d, d));
        o = register_module("o", lin(d, d));
        gate = register_module("gate", lin(d, c.n_ff));
        up = register_module("up", lin(d, c.n_ff));
        down = register_module("down", lin(c.n_ff, d));
    }

    // llama.cpp's "NORM" RoPE: adjacent pairs (2j, 2j+1) rotated by pos * base^(-2j/dh); x [..., T, dh]
    static torch::Tensor rope(const torch::Tensor & x, const torch::Tensor & cos, const torch::Tensor & sin) {
        std::vector<int64_t> pair_sizes = x.sizes().vec();
        pair_sizes.back() /= 2;
        pair_sizes.push_back(2);
        const torch::Tensor pairs = x.reshape(pair_sizes);
        const torch::Tensor x0 = pairs.select(-1, 0), x1 = pairs.select(-1, 1);
        return torch::stack({x0 * cos - x1 * sin, x0 * sin + x1 * cos}, -1).reshape(x.sizes());
    }

    // One layer over a shared context and groups of continuations of it. hp [B, P, D]: the tokens before and
    // including the image (identical for every question about that image); each hs [B, Q, L, D]: Q token
    // sequences that all follow the same P positions (groups differ in length L, so short questions are not
    // padded to the caption's length). Each continuation attends causally to the context and to itself only:
    // the same numbers as separate sequences of P + L tokens, with the context computed once.
    torch::Tensor forward(torch::Tensor hp, std::vector<torch::Tensor> & hs_groups, const torch::Tensor & cos,
                          const torch::Tensor & sin, const torch::Tensor & causal) {
        const int64_t B = hp.size(0), P = hp.size(1), D = hp.size(2), dh = D / n_head;
        const double scale = 1.0 / std::sqrt(double(dh));
        const float neg_inf = -std::numeric_limits<float>::infinity();

        const torch::Tensor ap = attn_norm(hp);
        const torch::Tensor cos_p = cos.narrow(0, 0, P), sin_p = sin.narrow(0, 0, P);
        auto heads_p = [&](const torch::Tensor & t) { return t.view({B, P, n_head, dh}).transpose(1, 2); }; // [B,H,P,dh]
        const torch::Tensor qp = rope(heads_p(q(ap)), cos_p, sin_p), kp = rope(heads_p(k(ap)), cos_p, sin_p), vp = heads_p(v(ap));

        // context: causal self-attention
        torch::Tensor sp = qp.matmul(kp.transpose(-2, -1)) * scale;
        sp = sp.masked_fill(causal.narrow(0, 0, P).narrow(1, 0, P), neg_inf);
        hp = hp + o(torch::softmax(sp, -1).matmul(vp).transpose(1, 2).reshape({B, P, D}));
        const torch::Tensor bp = ffn_norm(hp);
        hp = hp + down(torch::silu(gate(bp)) * up(bp));

        // continuations: all of the context, then causally themselves
        const torch::Tensor kp_b = kp.unsqueeze(1), vp_b = vp.unsqueeze(1); // [B,1,H,P,dh]
        for (torch::Tensor & hs : hs_groups) {
            const int64_t Q = hs.size(1), L = hs.size(2);
            const torch::Tensor cos_s = cos.narrow(0, P, L), sin_s = sin.narrow(0, P, L);
            auto heads_s = [&](const torch::Tensor & t) { return t.view({B, Q, L, n_head, dh}).transpose(2, 3); }; // [B,Q,H,L,dh]
            const torch::Tensor as = attn_norm(hs);
            const torch::Tensor qs = rope(heads_s(q(as)), cos_s, sin_s), ks = rope(heads_s(k(as)), cos_s, sin_s), vs = heads_s(v(as));
            const torch::Tensor s_ctx = qs.matmul(kp_b.transpose(-2, -1)) * scale; // [B,Q,H,L,P]
            const torch::Tensor s_self = (qs.matmul(ks.transpose(-2, -1)) * scale)
                                             .masked_fill(causal.narrow(0, 0, L).narrow(1, 0, L), neg_inf); // [B,Q,H,L,L]
            const torch::Tensor probs = torch::softmax(torch::cat({s_ctx, s_self}, -1), -1);
            const torch::Tensor out_s = (probs.narrow(-1, 0, P).matmul(vp_b) + probs.narrow(-1, P, L).matmul(vs))
                                            .transpose(2, 3).reshape({B, Q, L, D});
            hs = hs + o(out_s);
            const torch::Tensor bs = ffn_norm(hs);
            hs = hs + down(torch::silu(gate(bs)) * up(bs));
        }
        return hp;
    }
};
TORCH_MODULE_IMPL(llama_block, llama_block_impl);

struct vlm_impl : torch::nn::Module {
    sm::config cfg;
    // vision
    torch::nn::Conv2d patch{nullptr};
    torch::Tensor pos;
    torch::nn::LayerNorm pre_ln{nullptr};
    torch::nn::ModuleList vit;
    torch::nn::Linear mm0{nullptr}, mm2{nullptr};
    torch::Tensor mean, stdev;
    // training only, never exported: per-patch object category from the ViT output (see k_patch_classes)
    torch::nn::Linear patch_head{nullptr};
    // text
    torch::nn::Embedding tok{nullptr};
    torch::nn::ModuleList blocks;
    rms_norm out_norm{nullptr};
    torch::nn::Linear output{nullptr};

    explicit vlm_impl(const sm::config & c) : cfg(c) {
        const int64_t e = c.v_n_embd, n_img = c.n_image_tokens();
        patch = register_module("patch", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, e, c.patch_size).stride(c.patch_size)));
        pos = register_parameter("pos", torch::randn({n_img, e}) * 0.02);
        pre_ln = register_module("pre_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({e}).eps(c.v_ln_eps)));
        vit = register_module("vit", torch::nn::ModuleList());
        for (int i = 0; i < c.v_n_layer; ++i) {
            vit->push_back(vit_block(c));
        }
        mm0 = register_module("mm0", torch::nn::Linear(e, c.n_proj_hidden));
        mm2 = register_module("mm2", torch::nn::Linear(c.n_proj_hidden, c.n_embd));
        patch_head = register_module("patch_head", torch::nn::Linear(e, k_patch_classes));
        mean = torch::tensor({c.image_mean[0], c.image_mean[1], c.image_mean[2]}).view({3, 1, 1});
        stdev = torch::tensor({c.image_std[0], c.image_std[1], c.image_std[2]}).view({3, 1, 1});

        tok = register_module("tok", torch::nn::Embedding(c.n_vocab, c.n_embd));
        torch::nn::init::normal_(tok->weight, 0.0, 0.02);
        blocks = register_module("blocks", torch::nn::ModuleList());
        for (int i = 0; i < c.n_layer; ++i) {
            blocks->push_back(llama_block(c));
        }
        out_norm = register_module("out_norm", rms_norm(c.n_embd, c.rms_eps));
        output = register_module("output", torch::nn::Linear(torch::nn::LinearOptions(c.n_embd, c.n_vocab).bias(false)));
    }

    // uint8 RGB images [B, H, W, 3] -> normalized planar floats [B, 3, H, W], as libmtmd computes them
    torch::Tensor normalize(const torch::Tensor & rgb8) const {
        return (rgb8.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0f - mean) / stdev;
    }

    // image embeddings [B, N, n_embd]; patch_logits (if given) gets the training-only patch head's output
    torch::Tensor encode(const torch::Tensor & pixels, torch::Tensor * patch_logits = nullptr) {
        torch::Tensor x = patch(pixels).flatten(2).transpose(1, 2) + pos; // [B, N, e], patches row-major
        x = pre_ln(x);
        for (const auto & m : *vit) {
            x = m->as<vit_block>()->forward(x);
        }
        if (patch_logits != nullptr) {
            *patch_logits = patch_head(x);
        }
        return mm2(gelu_tanh(mm0(x)));
    }

    // Logits at every position after the image, for groups of continuations per image: each suffix
    // [B, Q, L] -> logits [B, Q, L, n_vocab]. Continuation q of image b is prefix, image b, suffix[b][q].
    std::vector<torch::Tensor> forward(const torch::Tensor & rgb8, const torch::Tensor & prefix,
                                       const std::vector<torch::Tensor> & suffixes,
                                       torch::Tensor * patch_logits = nullptr) {
        const int64_t B = rgb8.size(0);
        const torch::Tensor img = encode(normalize(rgb8), patch_logits);
        torch::Tensor hp = torch::cat({tok(prefix).unsqueeze(0).expand({B, -1, -1}), img}, 1);
        std::vector<torch::Tensor> hs;
        int64_t L = 1;
        for (const torch::Tensor & s : suffixes) {
            hs.push_back(tok(s));
            L = std::max<int64_t>(L, s.size(2));
        }
        const int64_t P = hp.size(1), T = P + L, dh = cfg.n_embd / cfg.n_head;
        const torch::Tensor positions = torch::arange(T, torch::kFloat64).unsqueeze(1);
        const torch::Tensor inv_freq =
            torch::pow(double(cfg.rope_freq_base), -torch::arange(0, dh, 2, torch::kFloat64) / double(dh)).unsqueeze(0);
        const torch::Tensor angle = positions * inv_freq; // [T, dh/2]
        const torch::Tensor cos = torch::cos(angle).to(torch::kFloat32), sin = torch::sin(angle).to(torch::kFloat32);
        const torch::Tensor causal = torch::ones({std::max(P, L), std::max(P, L)}, torch::kBool).triu(1);
        for (const auto & m : *blocks) {
            hp = m->as<llama_block>()->forward(hp, hs, cos, sin, causal);
        }
        std::vector<torch::Tensor> logits;
        for (const torch::Tensor & h : hs) {
            logits.push_back(output(out_norm(h)));
        }
        return logits;
    }

    // the parameters the GGUF pair carries (all but the training-only patch head)
    int64_t n_exported_params() {
        int64_t n = 0;
        for (const auto & p : parameters()) {
            n += p.numel();
        }
        for (const auto & p : patch_head->parameters()) {
            n -= p.numel();
        }
        return n;
    }

    // every trained tensor under its GGUF name, in ggml order (= the reversed PyTorch shape, same bytes)
    std::vector<sm::named_tensor> export_tensors() {
        std::vector<sm::named_tensor> out;
        auto add = [&](const std::string & name, const torch::Tensor & t) {
            const torch::Tensor c = t.detach().contiguous().to(torch::kFloat32);
            sm::named_tensor nt;
            nt.name = name;
            for (int64_t i = c.dim() - 1; i >= 0; --i) {
                nt.shape.push_back(c.size(i));
            }
            nt.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
            out.push_back(std::move(nt));
        };
        add("token_embd.weight", tok->weight);
        for (size_t i = 0; i < blocks->size(); ++i) {
            auto b = blocks[i]->as<llama_block>();
            const std::string p = "blk." + std::to_string(i) + ".";
            add(p + "attn_norm.weight", b->attn_norm->weight);
            add(p + "attn_q.weight", b->q->weight);
            add(p + "attn_k.weight", b->k->weight);
            add(p + "attn_v.weight", b->v->weight);
            add(p + "attn_output.weight", b->o->weight);
            add(p + "ffn_norm.weight", b->ffn_norm->weight);
            add(p + "ffn_gate.weight", b->gate->weight);
            add(p + "ffn_up.weight", b->up->weight);
            add(p + "ffn_down.weight", b->down->weight);
        }
        add("output_norm.weight", out_norm->weight);
        add("output.weight", output->weight);
        add("v.patch_embd.weight", patch->weight);
        add("v.patch_embd.bias", patch->bias);
        add("v.position_embd.weight", pos);
        add("v.pre_ln.weight", pre_ln->weight);
        add("v.pre_ln.bias", pre_ln->bias);
        for (size_t i = 0; i < vit->size(); ++i) {
            auto b = vit[i]->as<vit_block>();
            const std::string p = "v.blk." + std::to_string(i) + ".";
            add(p + "ln1.weight", b->ln1->weight);
            add(p + "ln1.bias", b->ln1->bias);
            add(p + "attn_q.weight", b->q->weight);
            add(p + "attn_q.bias", b->q->bias);
            add(p + "attn_k.weight", b->k->weight);
            add(p + "attn_k.bias", b->k->bias);
            add(p + "attn_v.weight", b->v->weight);
            add(p + "attn_v.bias", b->v->bias);
            add(p + "attn_out.weight", b->o->weight);
            add(p + "attn_out.bias", b->o->bias);
            add(p + "ln2.weight", b->ln2->weight);
            add(p + "ln2.bias", b->ln2->bias);
            add(p + "ffn_up.weight", b->up->weight);
            add(p + "ffn_up.bias", b->up->bias);
            add(p + "ffn_down.weight", b->down->weight);
            add(p + "ffn_down.bias", b->down->bias);
        }
        add("mm.0.weight", mm0->weight);
        add("mm.0.bias", mm0->bias);
        add("mm.2.weight", mm2->weight);
        add("mm.2.bias", mm2->bias);
        return out;
    }
};
TORCH_MODULE_IMPL(vlm, vlm_impl);

// ---------------------------------------------------------------------------------------------------------
// data

struct item {
    std::string task, prompt, answer;
    sequence seq;
};

// One image and every question the scene has about it (caption, the yes/no pair, color and shape where
// their answer is unique): the decoder runs the image once and all continuations after it.
struct group {
    eagle::image_rgb8 image;
    std::vector<item> items;
    std::vector<int64_t> patch_labels; // per patch, row-major: see patch_labels()
};

// The training-only auxiliary target: for every patch, the category (colour x shape) of the object that
// covers most of it, if that object covers at least a fifth of the patch, else "background". Supervising
// the ViT directly with it shortens the long plateau a ViT trained only through the decoder's answer loss
// sits on (shape barely above chance for the first ~1800 steps of a 2800-step run); like the pretrained
// vision tower of a real LLaVA, the head that reads it is not part of the exported model.
std::vector<int64_t> patch_labels(const eagle::shapes_scene & scene, int32_t patch_size) {
    const int32_t n = scene.image.nx, grid = n / patch_size;
    std::vector<int64_t> labels(size_t(grid) * grid, k_background_class);
    for (int32_t py = 0; py < grid; ++py) {
        for (int32_t px = 0; px < grid; ++px) {
            int64_t best = 0;
            for (const eagle::shapes_object & o : scene.objects) {
                int64_t covered = 0;
                for (int32_t y = py * patch_size; y < (py + 1) * patch_size; ++y) {
                    for (int32_t x = px * patch_size; x < (px + 1) * patch_size; ++x) {
                        covered += o.pixels.keep[size_t(y) * n + x] ? 1 : 0;
                    }
                }
                if (covered > best && 5 * covered >= int64_t(patch_size) * patch_size) {
                    best = covered;
                    labels[size_t(py) * grid + px] = int64_t(o.color) * int64_t(eagle::k_shape_kinds.size()) + int64_t(o.shape);
                }
            }
        }
    }
    return labels;
}

group make_group(const vocabulary & v, const eagle::shapes_config & scfg, int32_t patch_size, uint64_t seed,
                 int64_t index) {
    eagle::shapes_scene scene = eagle::make_shapes_scene(scfg, seed, index);
    group g;
    g.patch_labels = patch_labels(scene, patch_size);
    g.items.push_back({"caption", eagle::k_shapes_caption_prompt, scene.caption, {}});
    for (const eagle::shapes_qa & q : scene.qa) {
        g.items.push_back({q.task, q.question, q.answer, {}});
    }
    for (item & it : g.items) {
        it.seq = make_sequence(v, it.prompt, it.answer);
    }
    g.image = std::move(scene.image);
    return g;
}

// The continuations of a batch, in two groups of similar length (captions; questions), so the short
// questions are not padded to the captions' length.
struct batch {
    torch::Tensor rgb8;                  // [B, H, W, 3] uint8
    torch::Tensor patch_labels;          // [B, N] int64
    std::vector<torch::Tensor> suffixes; // each [B, Q, L] int64, padded with </s>
    std::vector<torch::Tensor> targets;  // each [B, Q, L] int64, -100 where no loss
    std::vector<std::vector<std::vector<const item *>>> items; // [group][b][q]
};

batch make_batch(const std::vector<group> & groups) {
    const int64_t B = int64_t(groups.size());
    const int64_t S = groups[0].image.nx;
    batch b;
    b.rgb8 = torch::empty({B, S, S, 3}, torch::kUInt8);
    b.patch_labels = torch::empty({B, int64_t(groups[0].patch_labels.size())}, torch::kInt64);
    b.items.assign(2, std::vector<std::vector<const item *>>(size_t(B)));
    for (int64_t i = 0; i < B; ++i) {
        const group & g = groups[size_t(i)];
        std::memcpy(b.rgb8[i].data_ptr<uint8_t>(), g.image.rgb.data(), g.image.rgb.size());
        std::memcpy(b.patch_labels[i].data_ptr<int64_t>(), g.patch_labels.data(), g.patch_labels.size() * sizeof(int64_t));
        for (const item & it : g.items) {
            b.items[it.task == "caption" ? 0 : 1][size_t(i)].push_back(&it);
        }
    }
    for (const auto & per_image : b.items) {
        int64_t Q = 0, L = 0;
        for (const auto & its : per_image) {
            Q = std::max<int64_t>(Q, int64_t(its.size()));
            for (const item * it : its) {
                L = std::max<int64_t>(L, int64_t(it->seq.ids.size()));
            }
        }
        if (Q == 0) {
            continue;
        }
        torch::Tensor suffix = torch::full({B, Q, L}, 2, torch::kInt64);
        torch::Tensor target = torch::full({B, Q, L}, -100, torch::kInt64);
        auto sa = suffix.accessor<int64_t, 3>();
        auto ta = target.accessor<int64_t, 3>();
        for (int64_t i = 0; i < B; ++i) {
            for (size_t q = 0; q < per_image[size_t(i)].size(); ++q) {
                const sequence & seq = per_image[size_t(i)][q]->seq;
                for (size_t j = 0; j < seq.ids.size(); ++j) {
                    sa[i][int64_t(q)][int64_t(j)] = seq.ids[j];
                    // position j predicts token j+1: train on the answer and its closing <|im_end|>
                    if (j + 1 < seq.ids.size() && int64_t(j + 1) >= seq.answer_start) {
                        ta[i][int64_t(q)][int64_t(j)] = seq.ids[j + 1];
                    }
                }
            }
        }
        b.suffixes.push_back(suffix);
        b.targets.push_back(target);
    }
    return b;
}

// mean (or sum) cross-entropy over every answer token of every group
torch::Tensor answer_loss(const std::vector<torch::Tensor> & logits, const std::vector<torch::Tensor> & targets,
                          bool sum = false) {
    std::vector<torch::Tensor> flat_logits, flat_targets;
    for (size_t g = 0; g < logits.size(); ++g) {
        flat_logits.push_back(logits[g].reshape({-1, logits[g].size(-1)}));
        flat_targets.push_back(targets[g].reshape({-1}));
    }
    auto options = torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100);
    if (sum) {
        options.reduction(torch::kSum);
    }
    return torch::nn::functional::cross_entropy(torch::cat(flat_logits), torch::cat(flat_targets), options);
}

// ---------------------------------------------------------------------------------------------------------

struct options {
    std::string tokens_path, out_dir;
    uint64_t seed = 1;
    int64_t n_steps = 6000;
    int64_t batch_size = 32;
    double lr = 2e-3;
    double patch_loss_weight = 0.5; // the training-only patch head's loss, relative to the answer loss
    int n_threads = 2;
    int64_t eval_every = 1000;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// held-out exact match per task (greedy decoding reproduces the answer iff every teacher-forced argmax hits)
void evaluate(vlm & model, const vocabulary & v, const std::vector<group> & held_out, const char * when) {
    torch::NoGradGuard no_grad;
    model->eval();
    std::map<std::string, std::pair<int, int>> hits; // task -> (exact, total)
    double loss_sum = 0.0;
    int64_t n_tok = 0;
    const torch::Tensor prefix = torch::tensor(prefix_ids(v), torch::kInt64);
    for (size_t start = 0; start < held_out.size(); start += 32) {
        const std::vector<group> part(held_out.begin() + ptrdiff_t(start),
                                      held_out.begin() + ptrdiff_t(std::min(held_out.size(), start + 32)));
        const batch b = make_batch(part);
        const std::vector<torch::Tensor> logits = model->forward(b.rgb8, prefix, b.suffixes);
        loss_sum += answer_loss(logits, b.targets, true).item<double>();
        size_t g_out = 0;
        for (size_t g = 0; g < b.items.size(); ++g) {
            bool any = false;
            for (const auto & its : b.items[g]) any = any || !its.empty();
            if (!any) continue;
            const torch::Tensor valid = b.targets[g_out].ne(-100);
            n_tok += valid.sum().item<int64_t>();
            const torch::Tensor wrong = logits[g_out].argmax(-1).ne(b.targets[g_out]).logical_and(valid).any(-1); // [B, Q]
            for (size_t i = 0; i < part.size(); ++i) {
                for (size_t q = 0; q < b.items[g][i].size(); ++q) {
                    auto & h = hits[b.items[g][i][q]->task];
                    h.first += wrong[int64_t(i)][int64_t(q)].item<bool>() ? 0 : 1;
                    h.second += 1;
                }
            }
            ++g_out;
        }
    }
    std::string line;
    for (const auto & [task, h] : hits) {
        char buf[96];
        std::snprintf(buf, sizeof(buf), " %s %.3f (%d)", task.c_str(), double(h.first) / h.second, h.second);
        line += buf;
    }
    std::fprintf(stderr, "[%s] held-out loss %.4f, exact match:%s\n", when, loss_sum / double(std::max<int64_t>(1, n_tok)),
                 line.c_str());
    model->train();
}

// The parity reference: for a few images and prompts, this model's probabilities of the answer tokens and
// of the strongest competitors at each answer position.
void write_parity(vlm & model, const vocabulary & v, const std::string & dir) {
    torch::NoGradGuard no_grad;
    model->eval();
    std::filesystem::create_directories(dir);
    struct parity_item {
        eagle::shapes_split split;
        int64_t index;
        std::string task;
    };
    const std::vector<parity_item> items = {{eagle::shapes_split::standard, 0, "caption"},
                                     {eagle::shapes_split::standard, 1, "yesno"},
                                     {eagle::shapes_split::standard, 2, "color"},
                                     {eagle::shapes_split::probe, 0, "probe"}};
    constexpr uint64_t k_parity_seed = 4242;
    constexpr int64_t k_n_rivals = 3;
    nlohmann::ordered_json cases = nlohmann::ordered_json::array();
    const std::vector<int64_t> prefix = prefix_ids(v);
    for (size_t n = 0; n < items.size(); ++n) {
        eagle::shapes_config scfg;
        scfg.size = model->cfg.image_size;
        scfg.split = items[n].split;
        const eagle::shapes_scene scene = eagle::make_shapes_scene(scfg, k_parity_seed, items[n].index);
        std::string prompt = eagle::k_shapes_caption_prompt, answer = scene.caption;
        for (const eagle::shapes_qa & q : scene.qa) {
            if (q.task == items[n].task) {
                prompt = q.question;
                answer = q.answer;
                break;
            }
        }
        const std::string file = "parity-" + std::to_string(n) + ".png";
        eagle::save_png(scene.image, (std::filesystem::path(dir) / file).string());
        const sequence seq = make_sequence(v, prompt, answer);
        const group g{scene.image, {item{items[n].task, prompt, answer, seq}}, patch_labels(scene, model->cfg.patch_size)};
        const batch b = make_batch({g});
        const torch::Tensor probs =
            torch::softmax(model->forward(b.rgb8, torch::tensor(prefix, torch::kInt64), b.suffixes).at(0).to(torch::kFloat64), -1)[0][0];
        nlohmann::ordered_json targets = nlohmann::ordered_json::array();
        const std::vector<int64_t> answer_ids(seq.ids.begin() + seq.answer_start, seq.ids.end());
        for (int64_t t = 0; t < int64_t(answer_ids.size()); ++t) {
            const torch::Tensor p = probs[seq.answer_start - 1 + t];
            const torch::Tensor top = std::get<1>(p.topk(k_n_rivals + 1));
            std::vector<int64_t> ids = {answer_ids[size_t(t)]};
            for (int64_t r = 0; r <= k_n_rivals && int64_t(ids.size()) <= k_n_rivals; ++r) {
                const int64_t id = top[r].item<int64_t>();
                if (id != answer_ids[size_t(t)]) {
                    ids.push_back(id);
                }
            }
            for (int64_t id : ids) {
                targets.push_back({{"index", t}, {"id", id}, {"prob", p[id].item<double>()}});
            }
        }
        const std::vector<int64_t> prompt_ids(seq.ids.begin(), seq.ids.begin() + seq.answer_start);
        cases.push_back({{"image", file}, {"task", items[n].task}, {"prompt", prompt}, {"answer", answer},
                         {"prefix_ids", prefix}, {"prompt_ids", prompt_ids}, {"answer_ids", answer_ids},
                         {"targets", targets}});
    }
    nlohmann::ordered_json doc = {
        {"about", "next-token probabilities of the libtorch ShapesWorld model (eagle-train-shapes), teacher forced; "
                  "prefix_ids come before the image, prompt_ids after it, answer_ids end with <|im_end|>"},
        {"n_image_tokens", model->cfg.n_image_tokens()},
        {"cases", cases}};
    std::ofstream out((std::filesystem::path(dir) / "parity.json").string());
    out << doc.dump(1) << "\n";
    model->train();
}

int run(const options & opt) {
    torch::set_num_threads(opt.n_threads);
    torch::manual_seed(opt.seed);
    const vocabulary v = read_vocabulary(opt.tokens_path);
    sm::config cfg;
    cfg.n_vocab = int32_t(v.n_vocab);
    vlm model(cfg);
    const int64_t n_params = model->n_exported_params();
    std::fprintf(stderr, "model: %lld exported parameters, vocabulary %lld, %d image tokens, %d threads\n",
                 static_cast<long long>(n_params), static_cast<long long>(v.n_vocab), cfg.n_image_tokens(), opt.n_threads);

    eagle::shapes_config scfg;
    scfg.size = cfg.image_size;
    std::vector<group> held_out;
    for (int64_t i = 0; i < 256; ++i) {
        held_out.push_back(make_group(v, scfg, cfg.patch_size, opt.seed + 1000003, i)); // a different seed: other scenes
    }
    // the bias probe, watched during training: its "probe" task's exact match is 1 - the hallucination rate
    eagle::shapes_config probe_cfg = scfg;
    probe_cfg.split = eagle::shapes_split::probe;
    std::vector<group> held_out_probe;
    for (int64_t i = 0; i < 128; ++i) {
        held_out_probe.push_back(make_group(v, probe_cfg, cfg.patch_size, opt.seed + 1000003, i));
    }

    torch::optim::AdamW optim(model->parameters(), torch::optim::AdamWOptions(opt.lr).betas({0.9, 0.98}).weight_decay(0.0));
    const torch::Tensor prefix = torch::tensor(prefix_ids(v), torch::kInt64);
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n_warmup = std::min<int64_t>(300, opt.n_steps / 10 + 1);
    double loss_avg = 0.0;
    for (int64_t step = 0; step < opt.n_steps; ++step) {
        // warm-up, then cosine decay to 5% of the peak
        const double progress = double(std::max<int64_t>(0, step - n_warmup)) / double(std::max<int64_t>(1, opt.n_steps - n_warmup));
        const double lr = step < n_warmup ? opt.lr * double(step + 1) / double(n_warmup)
                                          : opt.lr * (0.05 + 0.95 * 0.5 * (1.0 + std::cos(M_PI * progress)));
        for (auto & group : optim.param_groups()) {
            static_cast<torch::optim::AdamWOptions &>(group.options()).lr(lr);
        }
        std::vector<group> groups;
        for (int64_t i = 0; i < opt.batch_size; ++i) {
            groups.push_back(make_group(v, scfg, cfg.patch_size, opt.seed, step * opt.batch_size + i));
        }
        const batch b = make_batch(groups);
        torch::Tensor patch_logits;
        torch::Tensor loss = answer_loss(model->forward(b.rgb8, prefix, b.suffixes, &patch_logits), b.targets);
        if (opt.patch_loss_weight > 0.0) {
            loss = loss + opt.patch_loss_weight * torch::nn::functional::cross_entropy(
                                                      patch_logits.reshape({-1, k_patch_classes}), b.patch_labels.reshape({-1}));
        }
        optim.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
        optim.step();
        loss_avg = step == 0 ? loss.item<double>() : 0.98 * loss_avg + 0.02 * loss.item<double>();
        if ((step + 1) % 50 == 0 || step == 0) {
            const double t = seconds_since(t0);
            std::fprintf(stderr, "step %lld/%lld loss %.4f lr %.2e %.1f s (%.3f s/step, ~%.1f min left)\n",
                         static_cast<long long>(step + 1), static_cast<long long>(opt.n_steps), loss_avg, lr, t,
                         t / double(step + 1), t / double(step + 1) * double(opt.n_steps - step - 1) / 60.0);
        }
        if ((step + 1) % opt.eval_every == 0 && step + 1 < opt.n_steps) {
            evaluate(model, v, held_out, ("step " + std::to_string(step + 1)).c_str());
            evaluate(model, v, held_out_probe, ("step " + std::to_string(step + 1) + ", probe").c_str());
        }
    }
    evaluate(model, v, held_out, "final");
    evaluate(model, v, held_out_probe, "final, probe");
    std::fprintf(stderr, "training took %.1f s\n", seconds_since(t0));

    std::filesystem::create_directories(opt.out_dir);
    const std::string weights_path = (std::filesystem::path(opt.out_dir) / "shapesworld-weights.bin").string();
    sm::write_weights(weights_path, cfg, model->export_tensors());
    write_parity(model, v, (std::filesystem::path(opt.out_dir) / "parity").string());
    std::fprintf(stderr, "wrote %s and %s/parity/\n", weights_path.c_str(), opt.out_dir.c_str());
    return 0;
}

long long parse_int(const std::string & flag, const std::string & value) {
    size_t pos = 0;
    long long x = 0;
    try {
        x = std::stoll(value, &pos);
    } catch (const std::exception &) {
        pos = 0;
    }
    if (value.empty() || pos != value.size() || x <= 0) {
        throw std::runtime_error("invalid value for " + flag + ": '" + value + "' (expected a positive integer)");
    }
    return x;
}

} // namespace

int main(int argc, char ** argv) {
    try {
        options opt;
        for (int i = 1; i < argc; i += 2) {
            const std::string a = argv[i];
            if (i + 1 >= argc) {
                throw std::runtime_error("missing value for " + a);
            }
            const std::string val = argv[i + 1];
            if      (a == "--tokens")     opt.tokens_path = val;
            else if (a == "--out")        opt.out_dir = val;
            else if (a == "--seed")       opt.seed = uint64_t(parse_int(a, val));
            else if (a == "--steps")      opt.n_steps = parse_int(a, val);
            else if (a == "--batch")      opt.batch_size = parse_int(a, val);
            else if (a == "--threads")    opt.n_threads = int(parse_int(a, val));
            else if (a == "--eval-every") opt.eval_every = parse_int(a, val);
            else if (a == "--lr")         opt.lr = std::stod(val);
            else if (a == "--patch-loss") opt.patch_loss_weight = std::stod(val);
            else throw std::runtime_error("unknown option " + a);
        }
        if (opt.tokens_path.empty() || opt.out_dir.empty()) {
            throw std::runtime_error("usage: eagle-train-shapes --tokens FILE --out DIR [--seed N] [--steps N] [--batch N] [--lr X] [--patch-loss W] [--threads N]");
        }
        return run(opt);
    } catch (const std::exception & e) {
        std::fprintf(stderr, "eagle-train-shapes: %s\n", e.what());
        return 1;
    }
}
