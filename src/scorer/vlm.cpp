// The engine-neutral part of eagle/vlm.h: new_session checks its params and puts the memo around the
// engine's session, so no engine implements a memo (or forgets to).
#include "eagle/vlm.h"

#include "eagle/error.h"
#include "eagle/log.h"
#include "eagle/memo-scorer.h"

namespace eagle {

namespace {

// A session with a memo in front of its scoring; generation goes straight through.
class memo_session final : public vlm_session {
public:
    explicit memo_session(std::unique_ptr<vlm_session> inner) : inner_(std::move(inner)), memo_(*inner_) {}

    generation generate(const generate_request & request) override { return inner_->generate(request); }
    const session_params & params() const override { return inner_->params(); }

    void prepare(const score_request & request) override { memo_.prepare(request); }
    int32_t n_targets() const override { return memo_.n_targets(); }
    void score(std::span<const mask> masks, std::span<float> probs) override { memo_.score(masks, probs); }
    scorer_stats stats() const override { return memo_.stats(); }

private:
    std::unique_ptr<vlm_session> inner_; // declared before memo_, which borrows it
    memo_scorer memo_;
};

} // namespace

std::unique_ptr<vlm_session> vlm_model::new_session(const session_params & params) const {
    if (params.n_seq < 1 || params.n_seq > 256) {
        throw error(errc::invalid_argument, "new_session: n_seq must be in 1..256, got " + std::to_string(params.n_seq) +
                                                " (a batch of " + std::to_string(params.n_seq) + " sequences)");
    }
    if (params.n_ctx < 0) {
        throw error(errc::invalid_argument, "new_session: n_ctx must be >= 0 (0 = sized from the request), got " +
                                                std::to_string(params.n_ctx) + " (context size " + std::to_string(params.n_ctx) +
                                                " is negative)");
    }
    std::unique_ptr<vlm_session> session = make_session(params);
    if (!params.use_memo) {
        return session;
    }
    return std::make_unique<memo_session>(std::move(session));
}

std::string place_image_marker(const std::string & prompt, const std::string & marker, bool use_raw_prompt,
                               int32_t n_images) {
    static const std::string placeholder = "<image>";
    std::string content = prompt;
    size_t n_placeholders = 0;
    for (size_t pos = content.find(placeholder); pos != std::string::npos;
         pos = content.find(placeholder, pos + marker.size())) {
        content.replace(pos, placeholder.size(), marker);
        ++n_placeholders;
    }
    if (n_images == 1 && n_placeholders > 1) {
        throw error(errc::invalid_argument, "prompt has " + std::to_string(n_placeholders) +
                                                " <image> placeholders; eagle explains one image at a time");
    }
    if (n_placeholders != 0 && n_placeholders != size_t(n_images)) {
        throw error(errc::invalid_argument, "prompt has " + std::to_string(n_placeholders) + " <image> placeholders for " +
                                                std::to_string(n_images) + " images");
    }
    if (use_raw_prompt && n_placeholders == 0) {
        throw error(errc::invalid_argument, "raw prompt '" + prompt + "' has no <image> placeholder");
    }
    if (n_placeholders != 0) {
        return content;
    }
    std::string leading;
    for (int32_t i = 0; i < n_images; ++i) {
        leading += marker + "\n";
    }
    return leading + content;
}

chat_family resolve_chat_family(const std::string & choice, std::string_view chat_template, std::string_view model_name) {
    const std::optional<chat_family> chosen = parse_chat_family(choice);
    const chat_family family = chosen ? *chosen : detect_chat_family(chat_template, model_name);
    log(log_level::info, "prompts rendered with the " + std::string(chat_family_of(family).name) + " chat template (" +
                             (chosen ? "as asked" : "detected from the model") + ")\n");
    return family;
}

std::string render_for_engine(const vlm_model & model, chat_family family, const std::optional<std::string> & system,
                              const std::string & prompt, const std::string & marker, int32_t n_images) {
    std::string text = render_chat_prompt(family, system, prompt, marker, n_images);
    // a tokenizer that adds BOS gives it for an empty text
    const std::vector<int32_t> added = model.tokenize("", true, true);
    if (!added.empty()) {
        const std::string bos = model.token_piece(added.front());
        if (!bos.empty() && text.starts_with(bos)) {
            text.erase(0, bos.size());
        }
    }
    return text;
}

} // namespace eagle
