// eagle/vlm.h - vision-language models run by llama.cpp (libllama + libmtmd), and scoring sessions on them.
//
//   eagle::vlm_model   model({"model.gguf", "mmproj.gguf"});        // load once (weights, vocabulary, encoder)
//   eagle::vlm_session session(model, {});                          // per-run state: context, KV cache, memo
//   auto gen = session.generate(image, "describe the image", false, 32);
//   session.prepare({image, "describe the image", false, answer_ids});
//   session.score(masks, probs);                                    // many masked images per llama_decode
//
// Ownership: a session borrows its model, which must outlive it.
// Thread safety: vlm_model is immutable after loading and may be shared by sessions on different threads
// (image encoding is serialized inside it). A vlm_session must be used by one thread at a time.
#pragma once

#include "eagle/image.h"
#include "eagle/scorer.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace eagle {

struct model_params {
    std::string model_path;     // text model GGUF
    std::string mmproj_path;    // multimodal projector GGUF (libmtmd)
    int32_t n_threads  = 0;     // 0 = all hardware threads (or $EAGLE_THREADS)
    int32_t n_gpu_layers = 0;   // layers offloaded to a GPU backend if one is loaded; -1 = all
};

struct llama_info {
    std::string version;        // llama.cpp version eagle was built against, e.g. "0.7.0 (build 11669, Debian)"
    std::string source;         // where it came from ("private prefix", "system")
    std::string packages;       // private prefix: every unpacked package with its version, "name version, ..."
};
llama_info llama_cpp_info();

class vlm_model {
public:
    explicit vlm_model(const model_params & params); // throws errc::io (missing file) / errc::model
    ~vlm_model();
    vlm_model(const vlm_model &) = delete;
    vlm_model & operator=(const vlm_model &) = delete;

    const model_params & params() const;
    std::string description() const;   // architecture, size, parameter count (from llama.cpp)
    int32_t n_vocab() const;
    int32_t n_ctx_train() const;
    bool has_chat_template() const;

    // Text <-> tokens with the model's vocabulary. parse_special: control-token text becomes control tokens.
    std::vector<int32_t> tokenize(const std::string & text, bool add_bos, bool parse_special = false) const;
    std::string token_piece(int32_t id) const;           // text of one token (control tokens as written)
    std::string detokenize(std::span<const int32_t> ids) const; // text of an answer, control tokens dropped
    bool is_eog(int32_t id) const;                       // end-of-generation token?
    int32_t eog_token() const;                           // the token the chat template ends a turn with

    // The full prompt text for a user prompt: chat template (image first) or raw with "<image>" replaced.
    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const;

    struct impl;
    impl & get_impl() const { return *impl_; }

private:
    std::unique_ptr<impl> impl_;
};

struct session_params {
    int32_t n_seq        = 16;   // masked images per llama_decode (one sequence each)
    int32_t n_ctx        = 0;    // context size; 0 = sized from the request
    bool    share_prefix = true; // decode the text before the image once; all sequences share its KV cache
    bool    use_memo     = true; // answer repeated masks from a memo
    bool    use_unified_kv = false; // one KV buffer for all sequences (less memory, attention ~ n_seq^2)
                                    // instead of one stream per sequence
    bool    use_batch_encode = false; // encode several images per libmtmd call (mtmd_batch_encode) where the
                                      // projector allows it; off: in llama.cpp 0.7.0 it measured 5-100x slower
                                      // than one image per call on CPU (BENCHMARKS.md)
    bool    use_flash_attn = false; // llama.cpp's flash attention: faster on GPUs, but on CPU its f16
                                    // accumulation makes scores depend (~1e-3) on the batch a mask is in
};

struct generated_token {
    int32_t id = 0;
    std::string piece;           // token text
    float prob = 0.0f;           // probability the model gave it (softmax over the full vocabulary)
    bool is_eog = false;         // the end-of-generation token (included last when the model stopped)
};

struct generation {
    std::string text;                     // answer text, end-of-generation token excluded
    std::vector<generated_token> tokens;  // every generated token
};

class vlm_session final : public scorer {
public:
    vlm_session(const vlm_model & model, const session_params & params);
    ~vlm_session() override;

    // Greedy decoding on the unmasked image, up to max_tokens tokens or the end-of-generation token.
    generation generate(const image_rgb8 & image, const std::string & prompt, bool use_raw_prompt,
                        int32_t max_tokens);

    void prepare(const score_request & request) override;
    int32_t n_targets() const override;
    void score(std::span<const mask> masks, std::span<float> probs) override;
    scorer_stats stats() const override;

    const session_params & params() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace eagle
