// eagle-export-shapes: the GGUF side of the ShapesWorld model (see shapes-model.h).
//
//   eagle-export-shapes vocab --out tokens.txt
//       the model's token list, one token text per line, line i = token id i (what the trainer trains on)
//   eagle-export-shapes gguf --weights W.bin --model OUT-model.gguf --mmproj OUT-mmproj.gguf
//       the trained weights as a LLaVA-style GGUF pair (text arch llama, mmproj clip/mlp)
#include "../../src/export/gguf-vlm-writer.h"
#include "shapes-model.h"

#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace {

namespace sm = eagle::shapes_model;

eagle::vlm_vocab make_vocab() {
    eagle::vlm_vocab vocab;
    vocab.words = sm::vocab_words();
    vocab.control_tokens = {sm::k_im_start, sm::k_im_end};
    vocab.chat_template = sm::k_chat_template;
    return vocab;
}

int write_vocab(const std::string & out_path) {
    const std::vector<eagle::vlm_token> tokens = eagle::vlm_build_tokens(make_vocab());
    std::ofstream out(out_path);
    if (!out) {
        throw std::runtime_error("cannot write '" + out_path + "'");
    }
    for (const eagle::vlm_token & t : tokens) {
        if (t.text.find('\n') != std::string::npos) {
            throw std::runtime_error("token '" + t.text + "' contains a newline");
        }
        out << t.text << "\n";
    }
    if (!out.flush()) {
        throw std::runtime_error("cannot write '" + out_path + "'");
    }
    std::fprintf(stderr, "wrote %zu tokens to %s\n", tokens.size(), out_path.c_str());
    return 0;
}

int write_gguf(const std::string & weights_path, const std::string & model_path, const std::string & mmproj_path) {
    sm::config c;
    std::vector<sm::named_tensor> trained = sm::read_weights(weights_path, c);
    std::map<std::string, sm::named_tensor *> by_name;
    for (sm::named_tensor & t : trained) {
        by_name[t.name] = &t;
    }

    eagle::vlm_text_config text;
    text.n_embd = c.n_embd;
    text.n_layer = c.n_layer;
    text.n_head = text.n_head_kv = c.n_head;
    text.n_ff = c.n_ff;
    text.n_ctx_train = 256;
    text.rope_freq_base = c.rope_freq_base;
    text.rms_eps = c.rms_eps;

    eagle::vlm_vision_config vision;
    vision.image_size = c.image_size;
    vision.patch_size = c.patch_size;
    vision.n_embd = c.v_n_embd;
    vision.n_layer = c.v_n_layer + 1; // llama.cpp executes n_layer - 1 blocks (LLaVA's second-to-last layer)
    vision.n_head = c.v_n_head;
    vision.n_ff = c.v_n_ff;
    vision.n_proj_hidden = c.n_proj_hidden;
    vision.ln_eps = c.v_ln_eps;
    vision.class_embedding = false;
    for (int i = 0; i < 3; ++i) {
        vision.image_mean[size_t(i)] = c.image_mean[i];
        vision.image_std[size_t(i)] = c.image_std[i];
    }

    const eagle::vlm_vocab vocab = make_vocab();
    const int n_vocab = eagle::vlm_vocab_size(vocab);
    if (n_vocab != c.n_vocab) {
        throw std::runtime_error("the weights were trained for " + std::to_string(c.n_vocab) +
                                 " tokens but the vocabulary has " + std::to_string(n_vocab));
    }
    eagle::vlm_weights w;
    w.text = eagle::vlm_text_tensor_layout(text, n_vocab);
    w.vision = eagle::vlm_vision_tensor_layout(vision, text.n_embd);
    const std::string unused_block = "v.blk." + std::to_string(vision.n_layer - 1) + ".";
    size_t n_used = 0;
    auto fill = [&](eagle::vlm_tensor & t) {
        const auto it = by_name.find(t.name);
        if (it == by_name.end()) {
            if (t.name.rfind(unused_block, 0) == 0) {
                int64_t count = 1;
                for (int64_t d : t.shape) {
                    count *= d;
                }
                t.data.assign(size_t(count), 0.0f); // never executed by llama.cpp
                return;
            }
            throw std::runtime_error("weights file '" + weights_path + "' has no tensor '" + t.name + "'");
        }
        if (it->second->shape != t.shape) {
            throw std::runtime_error("tensor '" + t.name + "' in '" + weights_path + "' has the wrong shape");
        }
        t.data = it->second->data;
        ++n_used;
    };
    for (auto & t : w.text) fill(t);
    for (auto & t : w.vision) fill(t);
    if (n_used != trained.size()) {
        throw std::runtime_error("weights file '" + weights_path + "' has tensors the GGUF layout does not know");
    }
    eagle::write_vlm_gguf(model_path, mmproj_path, text, vision, vocab, w);
    std::fprintf(stderr, "wrote %s and %s\n", model_path.c_str(), mmproj_path.c_str());
    return 0;
}

int run(int argc, char ** argv) {
    if (argc < 2) {
        throw std::runtime_error("usage: eagle-export-shapes vocab --out FILE | gguf --weights FILE --model FILE --mmproj FILE");
    }
    const std::string mode = argv[1];
    std::map<std::string, std::string> opts;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            throw std::runtime_error(std::string("missing value for ") + argv[i]);
        }
        opts[argv[i]] = argv[i + 1];
    }
    auto need = [&](const std::string & key) {
        const auto it = opts.find(key);
        if (it == opts.end()) {
            throw std::runtime_error(mode + " needs " + key);
        }
        return it->second;
    };
    if (mode == "vocab") {
        return write_vocab(need("--out"));
    }
    if (mode == "gguf") {
        return write_gguf(need("--weights"), need("--model"), need("--mmproj"));
    }
    throw std::runtime_error("unknown mode '" + mode + "' (expected vocab or gguf)");
}

} // namespace

int main(int argc, char ** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception & e) {
        std::fprintf(stderr, "eagle-export-shapes: %s\n", e.what());
        return 1;
    }
}
