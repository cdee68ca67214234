// gguf-vlm-writer.cpp - see gguf-vlm-writer.h for the format and the
// llama.cpp graph facts this writer relies on.
#include "gguf-vlm-writer.h"

#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>

namespace eagle {

namespace {

// U+2581 LOWER ONE EIGHTH BLOCK: SentencePiece's word-boundary marker, what
// llama.cpp turns a space into before tokenizing.
constexpr const char * k_space_marker = "\xE2\x96\x81";

std::runtime_error error(const std::string & msg) {
    return std::runtime_error("write_vlm_gguf: " + msg);
}

// Split a UTF-8 string into code points (as byte strings). Invalid lead
// bytes are taken as single bytes so we never loop forever.
std::vector<std::string> utf8_chars(const std::string & s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t len = 1;
        if      ((c & 0xE0) == 0xC0) len = 2;
        else if ((c & 0xF0) == 0xE0) len = 3;
        else if ((c & 0xF8) == 0xF0) len = 4;
        len = std::min(len, s.size() - i);
        out.push_back(s.substr(i, len));
        i += len;
    }
    return out;
}

std::string fmt(const char * f, int a) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), f, a);
    return buf;
}

std::string shape_str(const std::vector<int64_t> & shape) {
    std::string s = "{";
    for (size_t i = 0; i < shape.size(); ++i) {
        s += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return s + "}";
}

int64_t n_elements(const std::vector<int64_t> & shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// Platform-independent standard normal: Box-Muller on mt19937_64 output
// (std::normal_distribution's algorithm is implementation-defined).
class normal_rng {
public:
    explicit normal_rng(uint64_t seed) : gen_(seed) {}

    float next() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        // 53-bit uniform in (0, 1]; never 0 so log() is finite
        const double u1 = (static_cast<double>(gen_() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
        const double u2 = static_cast<double>(gen_() >> 11) * (1.0 / 9007199254740992.0);
        const double r  = std::sqrt(-2.0 * std::log(u1));
        const double th = 6.283185307179586476925286766559 * u2;
        spare_     = static_cast<float>(r * std::sin(th));
        has_spare_ = true;
        return static_cast<float>(r * std::cos(th));
    }

private:
    std::mt19937_64 gen_;
    float spare_     = 0.0f;
    bool  has_spare_ = false;
};

void check_positive(const char * what, int v) {
    if (v <= 0) {
        throw error(std::string(what) + " must be > 0, got " + std::to_string(v));
    }
}

void validate(const vlm_text_config & t, const vlm_vision_config & v) {
    check_positive("text n_embd", t.n_embd);
    check_positive("text n_layer", t.n_layer);
    check_positive("text n_head", t.n_head);
    check_positive("text n_head_kv", t.n_head_kv);
    check_positive("text n_ff", t.n_ff);
    check_positive("text n_ctx_train", t.n_ctx_train);
    if (t.n_embd % t.n_head != 0) {
        throw error("text n_embd " + std::to_string(t.n_embd) + " is not divisible by n_head " + std::to_string(t.n_head));
    }
    if (t.n_head % t.n_head_kv != 0) {
        throw error("text n_head " + std::to_string(t.n_head) + " is not divisible by n_head_kv " + std::to_string(t.n_head_kv));
    }
    if ((t.n_embd / t.n_head) % 2 != 0) {
        throw error("text head dim " + std::to_string(t.n_embd / t.n_head) + " must be even for RoPE");
    }
    check_positive("vision image_size", v.image_size);
    check_positive("vision patch_size", v.patch_size);
    check_positive("vision n_embd", v.n_embd);
    check_positive("vision n_head", v.n_head);
    check_positive("vision n_ff", v.n_ff);
    check_positive("vision n_proj_hidden", v.n_proj_hidden);
    if (v.n_layer < 2) {
        // llama.cpp runs n_layer-1 blocks; with 1 the ViT would be empty
        throw error("vision n_layer must be >= 2 (the last block is not executed), got " + std::to_string(v.n_layer));
    }
    if (v.image_size % v.patch_size != 0) {
        throw error("vision image_size " + std::to_string(v.image_size) + " is not a multiple of patch_size " + std::to_string(v.patch_size));
    }
    if (v.n_embd % v.n_head != 0) {
        throw error("vision n_embd " + std::to_string(v.n_embd) + " is not divisible by n_head " + std::to_string(v.n_head));
    }
    if (v.n_ff == v.n_embd) {
        // llama.cpp would treat ffn_up/ffn_down as a legacy swapped pair
        throw error("vision n_ff must differ from vision n_embd (" + std::to_string(v.n_embd) + ")");
    }
    for (int c = 0; c < 3; ++c) {
        if (!(v.image_std[c] > 0.0f)) {
            throw error("vision image_std[" + std::to_string(c) + "] must be > 0");
        }
    }
}

// A ggml context holding one F32 tensor per vlm_tensor, with data copied in,
// so gguf_add_tensor() can take it. Freed by unique_ptr.
struct ggml_ctx_deleter {
    void operator()(ggml_context * c) const { ggml_free(c); }
};
struct gguf_ctx_deleter {
    void operator()(gguf_context * c) const { gguf_free(c); }
};
using ggml_ctx_ptr = std::unique_ptr<ggml_context, ggml_ctx_deleter>;
using gguf_ctx_ptr = std::unique_ptr<gguf_context, gguf_ctx_deleter>;

// Check `got` against `layout` (names, order, shapes, data sizes).
void check_tensors(const std::string & file, const std::vector<vlm_tensor> & layout,
                   const std::vector<vlm_tensor> & got) {
    if (got.size() != layout.size()) {
        throw error("'" + file + "': expected " + std::to_string(layout.size()) + " tensors, got " + std::to_string(got.size()));
    }
    for (size_t i = 0; i < layout.size(); ++i) {
        const auto & want = layout[i];
        const auto & have = got[i];
        if (have.name != want.name) {
            throw error("'" + file + "': tensor #" + std::to_string(i) + " is '" + have.name + "', expected '" + want.name + "'");
        }
        if (have.shape != want.shape) {
            throw error("tensor '" + have.name + "' has shape " + shape_str(have.shape) + ", expected " + shape_str(want.shape));
        }
        if (static_cast<int64_t>(have.data.size()) != n_elements(want.shape)) {
            throw error("tensor '" + have.name + "' has " + std::to_string(have.data.size()) + " values, expected " + std::to_string(n_elements(want.shape)));
        }
    }
}

void add_tensors(gguf_context * gguf, ggml_context * ctx, const std::vector<vlm_tensor> & tensors) {
    for (const auto & t : tensors) {
        ggml_tensor * g = nullptr;
        switch (t.shape.size()) {
            case 1: g = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, t.shape[0]); break;
            case 2: g = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, t.shape[0], t.shape[1]); break;
            case 3: g = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, t.shape[0], t.shape[1], t.shape[2]); break;
            case 4: g = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, t.shape[0], t.shape[1], t.shape[2], t.shape[3]); break;
            default: throw error("tensor '" + t.name + "' has unsupported rank " + std::to_string(t.shape.size()));
        }
        ggml_set_name(g, t.name.c_str());
        std::copy(t.data.begin(), t.data.end(), static_cast<float *>(g->data));
        gguf_add_tensor(gguf, g);
    }
}

ggml_ctx_ptr make_data_ctx(const std::vector<vlm_tensor> & tensors) {
    size_t bytes = 0;
    for (const auto & t : tensors) {
        bytes += GGML_PAD(static_cast<size_t>(n_elements(t.shape)) * sizeof(float), GGML_MEM_ALIGN);
    }
    bytes += (tensors.size() + 1) * ggml_tensor_overhead();
    ggml_init_params params = {bytes, nullptr, /*no_alloc=*/false};
    ggml_ctx_ptr ctx(ggml_init(params));
    if (!ctx) {
        throw error("ggml_init failed for " + std::to_string(bytes) + " bytes");
    }
    return ctx;
}

void write_file(gguf_context * gguf, const std::string & path) {
    // probe first so an unwritable path yields our message, not ggml's log line
    std::FILE * probe = std::fopen(path.c_str(), "wb");
    if (!probe) {
        throw error("cannot write '" + path + "'");
    }
    std::fclose(probe);
    if (!gguf_write_to_file(gguf, path.c_str(), /*only_meta=*/false)) {
        throw error("cannot write '" + path + "'");
    }
}

} // namespace

std::vector<vlm_token> vlm_build_tokens(const vlm_vocab & vocab) {
    std::vector<vlm_token> tokens;
    std::set<std::string> seen;
    auto add = [&](const std::string & text, float score, vlm_token_type type) {
        if (seen.insert(text).second) {
            tokens.push_back({text, score, type});
        }
    };

    add("<unk>", 0.0f, vlm_token_type::unknown);
    add("<s>",   0.0f, vlm_token_type::control);
    add("</s>",  0.0f, vlm_token_type::control);
    for (int b = 0; b < 256; ++b) {
        add(fmt("<0x%02X>", b), 0.0f, vlm_token_type::byte);
    }
    for (const auto & c : vocab.control_tokens) {
        if (c.empty()) {
            throw error("empty control token");
        }
        if (seen.count(c)) {
            throw error("duplicate control token '" + c + "'");
        }
        add(c, 0.0f, vlm_token_type::control);
    }

    // Pieces: single characters first (lowest scores), then longer prefixes.
    // Score = number of characters, so longer pieces are merged first and a
    // finished word outranks its own prefixes; ties are broken by llama.cpp's
    // left-to-right order, which is harmless (see header).
    std::map<std::string, size_t> pieces; // text -> length in characters
    for (const auto & w : vocab.words) {
        if (w.empty()) {
            throw error("empty word in vocabulary");
        }
        if (w.find_first_of(" \t\n\r") != std::string::npos) {
            throw error("word '" + w + "' contains whitespace");
        }
        const auto chars = utf8_chars(w);
        std::string bare;
        std::string marked = k_space_marker;
        pieces.emplace(marked, 1);
        for (size_t i = 0; i < chars.size(); ++i) {
            pieces.emplace(chars[i], 1);
            bare   += chars[i];
            marked += chars[i];
            pieces.emplace(bare, i + 1);
            pieces.emplace(marked, i + 2);
        }
    }
    // Deterministic order: by length then text.
    std::vector<std::pair<size_t, std::string>> ordered;
    for (const auto & [text, len] : pieces) {
        ordered.emplace_back(len, text);
    }
    std::sort(ordered.begin(), ordered.end());
    for (const auto & [len, text] : ordered) {
        if (seen.count(text)) {
            throw error("word piece '" + text + "' collides with a special token");
        }
        add(text, static_cast<float>(len), vlm_token_type::normal);
    }
    return tokens;
}

int vlm_vocab_size(const vlm_vocab & vocab) {
    return static_cast<int>(vlm_build_tokens(vocab).size());
}

std::vector<vlm_tensor> vlm_text_tensor_layout(const vlm_text_config & c, int n_vocab) {
    const int64_t d      = c.n_embd / c.n_head;
    const int64_t n_q    = d * c.n_head;
    const int64_t n_kv   = d * c.n_head_kv;
    std::vector<vlm_tensor> t;
    t.push_back({"token_embd.weight", {c.n_embd, n_vocab}, {}});
    for (int i = 0; i < c.n_layer; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        t.push_back({p + "attn_norm.weight",   {c.n_embd}, {}});
        t.push_back({p + "attn_q.weight",      {c.n_embd, n_q}, {}});
        t.push_back({p + "attn_k.weight",      {c.n_embd, n_kv}, {}});
        t.push_back({p + "attn_v.weight",      {c.n_embd, n_kv}, {}});
        t.push_back({p + "attn_output.weight", {n_q, c.n_embd}, {}});
        t.push_back({p + "ffn_norm.weight",    {c.n_embd}, {}});
        t.push_back({p + "ffn_gate.weight",    {c.n_embd, c.n_ff}, {}});
        t.push_back({p + "ffn_up.weight",      {c.n_embd, c.n_ff}, {}});
        t.push_back({p + "ffn_down.weight",    {c.n_ff, c.n_embd}, {}});
    }
    t.push_back({"output_norm.weight", {c.n_embd}, {}});
    t.push_back({"output.weight",      {c.n_embd, n_vocab}, {}});
    return t;
}

std::vector<vlm_tensor> vlm_vision_tensor_layout(const vlm_vision_config & c, int n_embd_text) {
    const int64_t n_side  = c.image_size / c.patch_size;
    const int64_t n_pos   = n_side * n_side + (c.class_embedding ? 1 : 0);
    const int64_t e       = c.n_embd;
    std::vector<vlm_tensor> t;
    t.push_back({"v.patch_embd.weight", {c.patch_size, c.patch_size, 3, e}, {}});
    t.push_back({"v.patch_embd.bias",   {e}, {}});
    if (c.class_embedding) {
        t.push_back({"v.class_embd", {e}, {}});
    }
    t.push_back({"v.position_embd.weight", {e, n_pos}, {}});
    t.push_back({"v.pre_ln.weight", {e}, {}});
    t.push_back({"v.pre_ln.bias",   {e}, {}});
    for (int i = 0; i < c.n_layer; ++i) {
        const std::string p = "v.blk." + std::to_string(i) + ".";
        t.push_back({p + "ln1.weight",      {e}, {}});
        t.push_back({p + "ln1.bias",        {e}, {}});
        t.push_back({p + "attn_q.weight",   {e, e}, {}});
        t.push_back({p + "attn_q.bias",     {e}, {}});
        t.push_back({p + "attn_k.weight",   {e, e}, {}});
        t.push_back({p + "attn_k.bias",     {e}, {}});
        t.push_back({p + "attn_v.weight",   {e, e}, {}});
        t.push_back({p + "attn_v.bias",     {e}, {}});
        t.push_back({p + "attn_out.weight", {e, e}, {}});
        t.push_back({p + "attn_out.bias",   {e}, {}});
        t.push_back({p + "ln2.weight",      {e}, {}});
        t.push_back({p + "ln2.bias",        {e}, {}});
        t.push_back({p + "ffn_up.weight",   {e, c.n_ff}, {}});
        t.push_back({p + "ffn_up.bias",     {c.n_ff}, {}});
        t.push_back({p + "ffn_down.weight", {c.n_ff, e}, {}});
        t.push_back({p + "ffn_down.bias",   {e}, {}});
    }
    t.push_back({"mm.0.weight", {e, c.n_proj_hidden}, {}});
    t.push_back({"mm.0.bias",   {c.n_proj_hidden}, {}});
    t.push_back({"mm.2.weight", {c.n_proj_hidden, n_embd_text}, {}});
    t.push_back({"mm.2.bias",   {n_embd_text}, {}});
    return t;
}

namespace {

bool ends_with(const std::string & s, const std::string & suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Fill one tensor by its role (told apart by name): norm weights = 1,
// biases small, embeddings ~ N(0, scale^2), matrices ~ N(0, scale^2/fan_in).
void fill_random(vlm_tensor & t, normal_rng & rng, float scale) {
    const int64_t n = n_elements(t.shape);
    t.data.resize(static_cast<size_t>(n));
    const bool is_norm = t.name.find("norm") != std::string::npos || t.name.find("_ln") != std::string::npos ||
                         t.name.find(".ln1.") != std::string::npos || t.name.find(".ln2.") != std::string::npos;
    const bool is_bias = ends_with(t.name, ".bias");
    if (is_norm && !is_bias) {
        std::fill(t.data.begin(), t.data.end(), 1.0f);
        return;
    }
    float std_dev = scale;
    if (is_bias) {
        std_dev = 0.1f * scale;
    } else if (t.name == "token_embd.weight" || t.name == "v.class_embd" || t.name == "v.position_embd.weight") {
        std_dev = scale;
    } else if (t.shape.size() >= 2) {
        // fan_in: everything but the output dimension (the last ne)
        const int64_t fan_in = n / t.shape.back();
        std_dev = scale / std::sqrt(static_cast<float>(fan_in));
    }
    for (auto & x : t.data) {
        x = rng.next() * std_dev;
    }
}

} // namespace

vlm_weights vlm_random_weights(const vlm_text_config & text, const vlm_vision_config & vision,
                               int n_vocab, uint64_t seed, float scale) {
    validate(text, vision);
    check_positive("n_vocab", n_vocab);
    normal_rng rng(seed);
    vlm_weights w;
    w.text   = vlm_text_tensor_layout(text, n_vocab);
    w.vision = vlm_vision_tensor_layout(vision, text.n_embd);
    for (auto & t : w.text)   fill_random(t, rng, scale);
    for (auto & t : w.vision) fill_random(t, rng, scale);
    return w;
}

void write_vlm_gguf(const std::string & model_path, const std::string & mmproj_path,
                    const vlm_text_config & text, const vlm_vision_config & vision,
                    const vlm_vocab & vocab, const vlm_weights & weights) {
    validate(text, vision);
    const std::vector<vlm_token> tokens = vlm_build_tokens(vocab);
    const int n_vocab = static_cast<int>(tokens.size());
    check_tensors(model_path,  vlm_text_tensor_layout(text, n_vocab), weights.text);
    check_tensors(mmproj_path, vlm_vision_tensor_layout(vision, text.n_embd), weights.vision);

    // ---- text model --------------------------------------------------------
    {
        gguf_ctx_ptr g(gguf_init_empty());
        gguf_context * ctx = g.get();
        gguf_set_val_str(ctx, "general.architecture", "llama");
        gguf_set_val_str(ctx, "general.name", "eagle-vlm-text");
        gguf_set_val_u32(ctx, "general.file_type", 0); // ALL_F32
        gguf_set_val_u32(ctx, "llama.vocab_size",            static_cast<uint32_t>(n_vocab));
        gguf_set_val_u32(ctx, "llama.context_length",        static_cast<uint32_t>(text.n_ctx_train));
        gguf_set_val_u32(ctx, "llama.embedding_length",      static_cast<uint32_t>(text.n_embd));
        gguf_set_val_u32(ctx, "llama.block_count",           static_cast<uint32_t>(text.n_layer));
        gguf_set_val_u32(ctx, "llama.feed_forward_length",   static_cast<uint32_t>(text.n_ff));
        gguf_set_val_u32(ctx, "llama.attention.head_count",    static_cast<uint32_t>(text.n_head));
        gguf_set_val_u32(ctx, "llama.attention.head_count_kv", static_cast<uint32_t>(text.n_head_kv));
        gguf_set_val_u32(ctx, "llama.rope.dimension_count",  static_cast<uint32_t>(text.n_embd / text.n_head));
        gguf_set_val_f32(ctx, "llama.rope.freq_base",        text.rope_freq_base);
        gguf_set_val_f32(ctx, "llama.attention.layer_norm_rms_epsilon", text.rms_eps);

        std::vector<const char *> texts;
        std::vector<float>        scores;
        std::vector<int32_t>      types;
        int eot_id = -1;
        for (size_t i = 0; i < tokens.size(); ++i) {
            texts.push_back(tokens[i].text.c_str());
            scores.push_back(tokens[i].score);
            types.push_back(static_cast<int32_t>(tokens[i].type));
            if (tokens[i].text == "<|im_end|>") {
                eot_id = static_cast<int>(i);
            }
        }
        gguf_set_val_str(ctx, "tokenizer.ggml.model", "llama");
        gguf_set_arr_str(ctx, "tokenizer.ggml.tokens", texts.data(), texts.size());
        gguf_set_arr_data(ctx, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), scores.size());
        gguf_set_arr_data(ctx, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types.data(), types.size());
        gguf_set_val_u32(ctx, "tokenizer.ggml.unknown_token_id", vlm_unk_id);
        gguf_set_val_u32(ctx, "tokenizer.ggml.bos_token_id", vlm_bos_id);
        gguf_set_val_u32(ctx, "tokenizer.ggml.eos_token_id", vlm_eos_id);
        if (eot_id >= 0) {
            // chatml turns end with <|im_end|>; make generation stop there
            gguf_set_val_u32(ctx, "tokenizer.ggml.eot_token_id", static_cast<uint32_t>(eot_id));
        }
        gguf_set_val_bool(ctx, "tokenizer.ggml.add_bos_token", true);
        gguf_set_val_bool(ctx, "tokenizer.ggml.add_eos_token", false);
        gguf_set_val_bool(ctx, "tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
        if (!vocab.chat_template.empty()) {
            gguf_set_val_str(ctx, "tokenizer.chat_template", vocab.chat_template.c_str());
        }

        ggml_ctx_ptr data = make_data_ctx(weights.text);
        add_tensors(ctx, data.get(), weights.text);
        write_file(ctx, model_path);
    }

    // ---- mmproj -------------------------------------------------------------
    {
        gguf_ctx_ptr g(gguf_init_empty());
        gguf_context * ctx = g.get();
        gguf_set_val_str(ctx, "general.architecture", "clip");
        gguf_set_val_str(ctx, "general.name", "eagle-vlm-mmproj");
        gguf_set_val_u32(ctx, "general.file_type", 0);
        gguf_set_val_str(ctx, "clip.projector_type", "mlp");
        gguf_set_val_bool(ctx, "clip.has_vision_encoder", true);
        gguf_set_val_bool(ctx, "clip.has_audio_encoder", false);
        gguf_set_val_bool(ctx, "clip.has_llava_projector", true); // read by older loaders
        // tanh-GELU in the ViT MLP (otherwise quick_gelu); see header
        gguf_set_val_bool(ctx, "clip.use_gelu", true);
        gguf_set_val_u32(ctx, "clip.vision.image_size",          static_cast<uint32_t>(vision.image_size));
        gguf_set_val_u32(ctx, "clip.vision.patch_size",          static_cast<uint32_t>(vision.patch_size));
        gguf_set_val_u32(ctx, "clip.vision.embedding_length",    static_cast<uint32_t>(vision.n_embd));
        gguf_set_val_u32(ctx, "clip.vision.feed_forward_length", static_cast<uint32_t>(vision.n_ff));
        gguf_set_val_u32(ctx, "clip.vision.block_count",         static_cast<uint32_t>(vision.n_layer));
        gguf_set_val_u32(ctx, "clip.vision.attention.head_count", static_cast<uint32_t>(vision.n_head));
        gguf_set_val_f32(ctx, "clip.vision.attention.layer_norm_epsilon", vision.ln_eps);
        gguf_set_val_u32(ctx, "clip.vision.projection_dim",      static_cast<uint32_t>(text.n_embd));
        gguf_set_arr_data(ctx, "clip.vision.image_mean", GGUF_TYPE_FLOAT32, vision.image_mean.data(), 3);
        gguf_set_arr_data(ctx, "clip.vision.image_std",  GGUF_TYPE_FLOAT32, vision.image_std.data(), 3);

        ggml_ctx_ptr data = make_data_ctx(weights.vision);
        add_tensors(ctx, data.get(), weights.vision);
        write_file(ctx, mmproj_path);
    }
}

} // namespace eagle
