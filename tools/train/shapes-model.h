// shapes-model.h - what the ShapesWorld trainer (libtorch), exporter (GGUF) and evaluator (llama.cpp) share:
// the model's dimensions, its vocabulary and prompt format, and the weights file that carries the trained
// tensors from the trainer to the exporter.
//
// Why two programs and a file between them: eagle's llama.cpp executables run on a private prefix's glibc and
// libstdc++ through their own loader; libtorch is Debian bookworm's. Linking both works but made libtorch
// ~50% slower in a measurement here, so the trainer links libtorch only and the exporter links the GGUF
// writer only.
//
// Weights file ("EAGLESW1"): 8-byte magic, uint64 little-endian length of a JSON header, the JSON header
// {"config": {...}, "tensors": [{"name", "shape" (ggml order), "offset" (in floats)}]}, then float32 data.
// Tensor names and shapes are exactly those of gguf-vlm-writer's layouts, except that the ViT's last block
// (loaded but never executed by llama.cpp) is absent; the exporter writes it as zeros.
#pragma once

#include "eagle/shapes.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace eagle::shapes_model {

// The chatml template (llama.cpp recognises it by "<|im_start|>"): the user turn is
// "<|im_start|>user\n<__media__>\n{prompt}<|im_end|>\n", then "<|im_start|>assistant\n"; the answer ends
// with <|im_end|>, the end-of-turn token.
inline constexpr const char * k_chat_template =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
inline constexpr const char * k_im_start = "<|im_start|>";
inline constexpr const char * k_im_end   = "<|im_end|>";

// the language's words plus the role names the template writes
inline std::vector<std::string> vocab_words() {
    std::vector<std::string> words = shapes_words();
    words.push_back("user");
    words.push_back("assistant");
    return words;
}

struct config {
    // vision (CLIP layout, no class embedding: see docs/shapesworld.md)
    int32_t image_size   = 128; // = the generator's default size, so mtmd feeds the pixels unchanged
    int32_t patch_size   = 16;
    int32_t v_n_embd     = 128;
    int32_t v_n_layer    = 3;   // blocks trained and executed; the GGUF gets one more, unused block
    int32_t v_n_head     = 4;
    int32_t v_n_ff       = 256;
    int32_t n_proj_hidden = 256;
    float   v_ln_eps     = 1e-5f;
    float   image_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    float   image_std[3]  = {0.26862954f, 0.26130258f, 0.27577711f};
    // text (llama)
    int32_t n_embd       = 128;
    int32_t n_layer      = 3;
    int32_t n_head       = 4;
    int32_t n_ff         = 384;
    int32_t n_vocab      = 0;   // set from the tokens file
    float   rope_freq_base = 10000.0f;
    float   rms_eps      = 1e-5f;

    int32_t n_image_tokens() const { return (image_size / patch_size) * (image_size / patch_size); }
};

inline nlohmann::json to_json(const config & c) {
    return {{"image_size", c.image_size}, {"patch_size", c.patch_size}, {"v_n_embd", c.v_n_embd},
            {"v_n_layer", c.v_n_layer}, {"v_n_head", c.v_n_head}, {"v_n_ff", c.v_n_ff},
            {"n_proj_hidden", c.n_proj_hidden}, {"v_ln_eps", c.v_ln_eps},
            {"image_mean", {c.image_mean[0], c.image_mean[1], c.image_mean[2]}},
            {"image_std", {c.image_std[0], c.image_std[1], c.image_std[2]}},
            {"n_embd", c.n_embd}, {"n_layer", c.n_layer}, {"n_head", c.n_head}, {"n_ff", c.n_ff},
            {"n_vocab", c.n_vocab}, {"rope_freq_base", c.rope_freq_base}, {"rms_eps", c.rms_eps}};
}

inline config config_from_json(const nlohmann::json & j) {
    config c;
    c.image_size = j.at("image_size"); c.patch_size = j.at("patch_size"); c.v_n_embd = j.at("v_n_embd");
    c.v_n_layer = j.at("v_n_layer"); c.v_n_head = j.at("v_n_head"); c.v_n_ff = j.at("v_n_ff");
    c.n_proj_hidden = j.at("n_proj_hidden"); c.v_ln_eps = j.at("v_ln_eps");
    for (int i = 0; i < 3; ++i) {
        c.image_mean[i] = j.at("image_mean").at(size_t(i));
        c.image_std[i] = j.at("image_std").at(size_t(i));
    }
    c.n_embd = j.at("n_embd"); c.n_layer = j.at("n_layer"); c.n_head = j.at("n_head"); c.n_ff = j.at("n_ff");
    c.n_vocab = j.at("n_vocab"); c.rope_freq_base = j.at("rope_freq_base"); c.rms_eps = j.at("rms_eps");
    return c;
}

struct named_tensor {
    std::string name;
    std::vector<int64_t> shape; // ggml order
    std::vector<float> data;
};

inline constexpr char k_weights_magic[8] = {'E', 'A', 'G', 'L', 'E', 'S', 'W', '1'};

inline void write_weights(const std::string & path, const config & c, const std::vector<named_tensor> & tensors) {
    nlohmann::json header;
    header["config"] = to_json(c);
    header["tensors"] = nlohmann::json::array();
    uint64_t offset = 0;
    for (const named_tensor & t : tensors) {
        header["tensors"].push_back({{"name", t.name}, {"shape", t.shape}, {"offset", offset}});
        offset += t.data.size();
    }
    const std::string text = header.dump();
    std::ofstream out(path, std::ios::binary);
    if (!out) {
        throw std::runtime_error("cannot write weights file '" + path + "'");
    }
    const uint64_t n = text.size();
    out.write(k_weights_magic, sizeof(k_weights_magic));
    out.write(reinterpret_cast<const char *>(&n), sizeof(n));
    out.write(text.data(), std::streamsize(n));
    for (const named_tensor & t : tensors) {
        out.write(reinterpret_cast<const char *>(t.data.data()), std::streamsize(t.data.size() * sizeof(float)));
    }
    if (!out.flush()) {
        throw std::runtime_error("cannot write weights file '" + path + "'");
    }
}

inline std::vector<named_tensor> read_weights(const std::string & path, config & c) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot open weights file '" + path + "'");
    }
    char magic[8] = {};
    uint64_t n = 0;
    in.read(magic, sizeof(magic));
    in.read(reinterpret_cast<char *>(&n), sizeof(n));
    if (!in || std::memcmp(magic, k_weights_magic, sizeof(magic)) != 0 || n > (1u << 24)) {
        throw std::runtime_error("'" + path + "' is not a ShapesWorld weights file");
    }
    std::string text(n, '\0');
    in.read(text.data(), std::streamsize(n));
    const nlohmann::json header = nlohmann::json::parse(text);
    c = config_from_json(header.at("config"));
    std::vector<named_tensor> tensors;
    for (const auto & jt : header.at("tensors")) {
        named_tensor t;
        t.name = jt.at("name");
        t.shape = jt.at("shape").get<std::vector<int64_t>>();
        int64_t count = 1;
        for (int64_t d : t.shape) {
            count *= d;
        }
        t.data.resize(size_t(count));
        in.read(reinterpret_cast<char *>(t.data.data()), std::streamsize(t.data.size() * sizeof(float)));
        if (!in) {
            throw std::runtime_error("weights file '" + path + "' is truncated at tensor '" + t.name + "'");
        }
        tensors.push_back(std::move(t));
    }
    return tensors;
}

} // namespace eagle::shapes_model
