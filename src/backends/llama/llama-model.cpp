// llama.cpp engine: the model (libllama text model + libmtmd projector), tokenizer and chat template.
#include "llama-model.h"

#include "llama-engine.h"
#include "llama-runtime.h"

#include "eagle/error.h"
#include "eagle/log.h"

#include <algorithm>

namespace eagle::llama_backend {

llama_vlm_model::llama_vlm_model(const model_params & params)
    : params_(params), n_threads_(params.n_threads > 0 ? params.n_threads : default_n_threads()) {
    init_logging_once();
    const std::string text_arch   = gguf_architecture(params.model_path, "model");
    const std::string mmproj_arch = gguf_architecture(params.mmproj_path, "mmproj");
    if (text_arch == "clip") {
        throw error(errc::model, "model '" + params.model_path + "' is a multimodal projector (clip); pass it as --mmproj");
    }
    if (mmproj_arch != "clip") {
        throw error(errc::model, "mmproj '" + params.mmproj_path + "' is not a multimodal projector (architecture '" +
                                     mmproj_arch + "', expected 'clip')");
    }
    init_backends_once();
    if (params.use_blas) {
        enable_blas_backend();
    }

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = params.n_gpu_layers;
    model_ = llama_model_load_from_file(params.model_path.c_str(), mparams);
    if (!model_) {
        throw error(errc::model, "cannot load model '" + params.model_path + "' (architecture '" + text_arch +
                                     "'): llama.cpp rejected it (run with --verbose for its log)");
    }
    vocab_ = llama_model_get_vocab(model_);

    mtmd_context_params cparams = mtmd_context_params_default();
    cparams.use_gpu       = params.n_gpu_layers != 0;
    cparams.n_threads     = n_threads_;
    cparams.print_timings = false;
    cparams.warmup        = false;
    mctx_ = mtmd_init_from_file(params.mmproj_path.c_str(), model_, cparams);
    if (!mctx_) {
        llama_model_free(model_); // the destructor does not run for a constructor that throws
        throw error(errc::model, "cannot load mmproj '" + params.mmproj_path + "' for model '" + params.model_path +
                                     "': corrupt, or made for another text model (run with --verbose for details)");
    }
    if (!mtmd_support_vision(mctx_)) {
        mtmd_free(mctx_);
        llama_model_free(model_);
        throw error(errc::model, "mmproj '" + params.mmproj_path + "' has no vision encoder");
    }
    if (const char * tmpl = llama_model_chat_template(model_, nullptr)) {
        chat_template_ = tmpl;
    }
}

llama_vlm_model::~llama_vlm_model() {
    if (mctx_) {
        mtmd_free(mctx_);
    }
    if (model_) {
        llama_model_free(model_);
    }
}

std::string llama_vlm_model::engine_version() const {
    return runtime_info().version;
}

std::string llama_vlm_model::description() const {
    char buf[256];
    llama_model_desc(model_, buf, sizeof(buf));
    return std::string(buf) + ", " + std::to_string(llama_model_n_params(model_)) + " parameters";
}

int32_t llama_vlm_model::n_vocab() const { return llama_vocab_n_tokens(vocab_); }
int32_t llama_vlm_model::n_ctx_train() const { return llama_model_n_ctx_train(model_); }

std::vector<int32_t> llama_vlm_model::tokenize(const std::string & text, bool add_bos, bool parse_special) const {
    int32_t n = -llama_tokenize(vocab_, text.data(), int32_t(text.size()), nullptr, 0, add_bos, parse_special);
    std::vector<int32_t> tokens(std::max(n, 0));
    if (n > 0) {
        n = llama_tokenize(vocab_, text.data(), int32_t(text.size()), tokens.data(), n, add_bos, parse_special);
        if (n < 0) {
            throw error(errc::backend, "tokenize: llama_tokenize failed on '" + text + "'");
        }
        tokens.resize(n);
    }
    return tokens;
}

std::string llama_vlm_model::token_piece(int32_t id) const {
    if (id < 0 || id >= n_vocab()) {
        throw error(errc::invalid_argument, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                std::to_string(n_vocab() - 1) + ")");
    }
    char buf[256];
    const int32_t n = llama_token_to_piece(vocab_, id, buf, sizeof(buf), 0, true);
    if (n < 0) {
        std::string big(-n, '\0');
        llama_token_to_piece(vocab_, id, big.data(), -n, 0, true);
        return big;
    }
    return std::string(buf, n);
}

std::string llama_vlm_model::detokenize(std::span<const int32_t> ids) const {
    std::string text(ids.size() * 16 + 16, '\0');
    int32_t n = llama_detokenize(vocab_, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()),
                                 /*remove_special =*/ false, /*unparse_special =*/ false);
    if (n < 0) {
        text.resize(-n);
        n = llama_detokenize(vocab_, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()), false,
                             false);
    }
    text.resize(std::max(n, 0));
    // SPM vocabularies start a text with the word-boundary space
    if (!text.empty() && text[0] == ' ') {
        text.erase(0, 1);
    }
    return text;
}

bool llama_vlm_model::is_eog(int32_t id) const { return llama_vocab_is_eog(vocab_, id); }

int32_t llama_vlm_model::eog_token() const {
    const llama_token eot = llama_vocab_eot(vocab_);
    return eot != LLAMA_TOKEN_NULL ? eot : llama_vocab_eos(vocab_);
}

std::string llama_vlm_model::format_prompt(const std::string & prompt, bool use_raw_prompt) const {
    static const std::string placeholder = "<image>";
    const std::string marker = mtmd_get_marker(mctx_);
    std::string content = prompt;
    size_t n_placeholders = 0;
    for (size_t pos = content.find(placeholder); pos != std::string::npos;
         pos = content.find(placeholder, pos + marker.size())) {
        content.replace(pos, placeholder.size(), marker);
        ++n_placeholders;
    }
    if (n_placeholders > 1) {
        throw error(errc::invalid_argument, "prompt has " + std::to_string(n_placeholders) +
                                                " <image> placeholders; eagle explains one image at a time");
    }
    if (use_raw_prompt) {
        if (n_placeholders == 0) {
            throw error(errc::invalid_argument, "raw prompt '" + prompt + "' has no <image> placeholder");
        }
        return content;
    }
    if (n_placeholders == 0) {
        content = marker + "\n" + content; // image first, as LLaVA-style models are trained
    }
    if (chat_template_.empty()) {
        log(log_level::info, "model has no chat template; using the prompt as written\n");
        return content;
    }
    llama_chat_message message{"user", content.c_str()};
    std::string out(content.size() * 2 + 256, '\0');
    int32_t n = llama_chat_apply_template(chat_template_.c_str(), &message, 1, true, out.data(), int32_t(out.size()));
    if (n > int32_t(out.size())) {
        out.resize(n);
        n = llama_chat_apply_template(chat_template_.c_str(), &message, 1, true, out.data(), int32_t(out.size()));
    }
    if (n < 0) {
        throw error(errc::unsupported, "the chat template of '" + params_.model_path +
                                           "' is not one llama.cpp knows; use --raw-prompt with an <image> placeholder");
    }
    out.resize(n);
    return out;
}

} // namespace eagle::llama_backend

namespace eagle::llama_backend {

std::unique_ptr<vlm_model> load_model(const model_params & params) {
    return std::make_unique<llama_vlm_model>(params);
}

} // namespace eagle::llama_backend
