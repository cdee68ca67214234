// eagle-make-fixture: write a tiny random LLaVA-style GGUF pair for tests.
//
//   eagle-make-fixture --out DIR [--seed N] [--scale S] [--image-size 32]
//                      [--patch-size 8] [--n-embd 64] [--n-layer 2]
//                      [--n-head 4] [--n-ff 128] [--vision-n-embd 32]
//                      [--vision-n-layer 3] [--vision-n-ff 64] [--no-class-embedding]
//
// Writes DIR/fixture-model.gguf and DIR/fixture-mmproj.gguf.
#include <algorithm>
#include "../src/export/gguf-vlm-writer.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace {

// The chatml template Qwen-style models ship; llama.cpp recognises it by
// "<|im_start|>" and applies its built-in chatml formatter.
const char * k_chatml_template =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const char * k_words[] = {
    "a", "an", "the", "red", "green", "blue", "yellow", "black", "white",
    "circle", "square", "triangle", "shape", "shapes", "and", "is", "are",
    "there", "what", "color", "describe", "image", "picture", "yes", "no",
    "?", ".", ",", "of", "in", "on", "left", "right", "top", "bottom",
    "big", "small", "one", "two", "three", "user", "assistant", "system",
};

void usage() {
    std::fprintf(stderr,
        "usage: eagle-make-fixture --out DIR [--seed N] [--scale S] [--image-size N] [--patch-size N]\n"
        "                          [--n-embd N] [--n-layer N] [--n-head N] [--n-head-kv N] [--n-ff N]\n"
        "                          [--n-vocab N] [--vision-n-embd N] [--vision-n-layer N]\n"
        "                          [--vision-n-head N] [--vision-n-ff N]\n"
        "                          [--no-class-embedding]\n");
}

long parse_int(const std::string & flag, const std::string & v) {
    size_t pos = 0;
    long x = 0;
    try {
        x = std::stol(v, &pos);
    } catch (const std::exception &) {
        pos = 0;
    }
    if (pos != v.size() || v.empty()) {
        throw std::runtime_error("invalid integer for " + flag + ": '" + v + "'");
    }
    return x;
}

float parse_float(const std::string & flag, const std::string & v) {
    size_t pos = 0;
    float x = 0;
    try {
        x = std::stof(v, &pos);
    } catch (const std::exception &) {
        pos = 0;
    }
    if (pos != v.size() || v.empty()) {
        throw std::runtime_error("invalid number for " + flag + ": '" + v + "'");
    }
    return x;
}

int run(int argc, char ** argv) {
    std::string out_dir;
    uint64_t seed  = 42;
    // scale 2: logits have std ~2 so next-token distributions are peaked,
    // and image tokens (std ~2 after mm.2) clearly move the prediction.
    float    scale = 2.0f;

    eagle::vlm_text_config   text;   // defaults: n_embd 64, 2 layers
    eagle::vlm_vision_config vision; // defaults: 32px, patch 8, n_embd 32
    int n_vocab_min = 0;             // --n-vocab: pad the vocabulary to this size (a real model's output layer)

    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage();
            return 0;
        }
        if (a == "--no-class-embedding") {
            vision.class_embedding = false;
            continue;
        }
        if (i + 1 >= argc) {
            throw std::runtime_error("missing value for " + a);
        }
        const std::string v = argv[++i];
        if      (a == "--out")            out_dir = v;
        else if (a == "--seed")           seed = static_cast<uint64_t>(parse_int(a, v));
        else if (a == "--scale")          scale = parse_float(a, v);
        else if (a == "--image-size")     vision.image_size = static_cast<int>(parse_int(a, v));
        else if (a == "--patch-size")     vision.patch_size = static_cast<int>(parse_int(a, v));
        else if (a == "--n-embd")         text.n_embd = static_cast<int>(parse_int(a, v));
        else if (a == "--n-layer")        text.n_layer = static_cast<int>(parse_int(a, v));
        else if (a == "--n-head")         text.n_head = text.n_head_kv = static_cast<int>(parse_int(a, v));
        else if (a == "--n-head-kv")      text.n_head_kv = static_cast<int>(parse_int(a, v));
        else if (a == "--n-vocab")        n_vocab_min = static_cast<int>(parse_int(a, v));
        else if (a == "--vision-n-head")  vision.n_head = static_cast<int>(parse_int(a, v));
        else if (a == "--n-ff")           text.n_ff = static_cast<int>(parse_int(a, v));
        else if (a == "--vision-n-embd")  vision.n_embd = static_cast<int>(parse_int(a, v));
        else if (a == "--vision-n-layer") vision.n_layer = static_cast<int>(parse_int(a, v));
        else if (a == "--vision-n-ff")    vision.n_ff = static_cast<int>(parse_int(a, v));
        else throw std::runtime_error("unknown option " + a);
    }
    if (out_dir.empty()) {
        throw std::runtime_error("--out DIR is required (see --help)");
    }
    if (!(scale > 0.0f)) {
        throw std::runtime_error("--scale must be > 0");
    }
    vision.n_proj_hidden = text.n_embd;

    eagle::vlm_vocab vocab;
    vocab.words.assign(std::begin(k_words), std::end(k_words));
    vocab.control_tokens = {"<|im_start|>", "<|im_end|>"};
    vocab.chat_template  = k_chatml_template;
    // filler words "w0", "w1", ... until the vocabulary has n_vocab_min tokens: a real model's vocabulary
    // size costs its output layer and softmax, which the benchmarks should pay as users do
    // (a word may bring more than one token: measured on the first, then added in bulk)
    int n_tokens = eagle::vlm_vocab_size(vocab);
    for (int i = 0, per_word = 0; n_tokens < n_vocab_min; n_tokens = eagle::vlm_vocab_size(vocab)) {
        const int n_words = per_word == 0 ? 1 : std::max(1, (n_vocab_min - n_tokens) / per_word);
        for (const int end = i + n_words; i < end; ++i) {
            vocab.words.push_back("w" + std::to_string(i));
        }
        per_word = std::max(1, (eagle::vlm_vocab_size(vocab) - n_tokens) / n_words);
    }

    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
        throw std::runtime_error("cannot create directory '" + out_dir + "': " + ec.message());
    }

    const int n_vocab = eagle::vlm_vocab_size(vocab);
    const eagle::vlm_weights w = eagle::vlm_random_weights(text, vision, n_vocab, seed, scale);
    const std::string model_path  = (std::filesystem::path(out_dir) / "fixture-model.gguf").string();
    const std::string mmproj_path = (std::filesystem::path(out_dir) / "fixture-mmproj.gguf").string();
    eagle::write_vlm_gguf(model_path, mmproj_path, text, vision, vocab, w);
    std::printf("wrote %s (%d tokens) and %s\n", model_path.c_str(), n_vocab, mmproj_path.c_str());
    return 0;
}

} // namespace

int main(int argc, char ** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception & e) {
        std::fprintf(stderr, "eagle-make-fixture: %s\n", e.what());
        return 1;
    }
}
