// The mock engine: a weight-free, analytic vision-language model (the model is described in
// include/eagle/mock-vlm.h). It exists to prove that an engine plugs in through eagle/vlm.h and the factory
// alone, and to give tests and examples a model that needs no files and answers in microseconds.
#include "eagle/mock-vlm.h"

#include "eagle/error.h"
#include "common/timing.h"

#include <array>
#include <cmath>
#include <sstream>

namespace eagle {

namespace {

using detail::scoped_timer;

// the vocabulary: control tokens first, then the words of the one sentence this model says
enum token : int32_t { t_unk, t_eos, t_image, t_top, t_bottom, t_left, t_right, t_red, t_green, t_blue, t_yellow, t_black, t_white, t_gray, n_tokens };
constexpr std::array<const char *, n_tokens> k_words = {"<unk>", "<eos>", "<image>", "top", "bottom", "left", "right",
                                                        "red", "green", "blue", "yellow", "black", "white", "gray"};
constexpr int32_t k_first_colour = t_red;
constexpr int32_t k_n_colours    = n_tokens - t_red;
constexpr std::array<std::array<int, 3>, k_n_colours> k_palette = {{
    {200, 40, 40}, {40, 160, 40}, {40, 60, 200}, {220, 200, 40}, {0, 0, 0}, {255, 255, 255}, {128, 128, 128}}};
constexpr int32_t k_n_quadrants = 4;
constexpr int32_t k_n_said      = 3 * k_n_quadrants; // "top left red ... bottom right gray", then <eos>
constexpr float   k_sure        = 6.0f;              // logit of the word the grammar expects

int32_t quadrant_of(int32_t x, int32_t y, int32_t nx, int32_t ny) {
    return (y * 2 / ny) * 2 + x * 2 / nx;
}

// The colour word of each quadrant: the palette entry nearest its mean pixel.
std::array<int32_t, k_n_quadrants> quadrant_colours(const image_rgb8 & image) {
    std::array<std::array<double, 3>, k_n_quadrants> sum{};
    std::array<double, k_n_quadrants> n{};
    for (int32_t y = 0; y < image.ny; ++y) {
        for (int32_t x = 0; x < image.nx; ++x) {
            const int32_t q = quadrant_of(x, y, image.nx, image.ny);
            const uint8_t * px = &image.rgb[(size_t(y) * image.nx + x) * 3];
            for (int c = 0; c < 3; ++c) {
                sum[q][c] += px[c];
            }
            n[q] += 1.0;
        }
    }
    std::array<int32_t, k_n_quadrants> colours{};
    for (int32_t q = 0; q < k_n_quadrants; ++q) {
        double best = 1e30;
        for (int32_t c = 0; c < k_n_colours; ++c) {
            double d = 0.0;
            for (int k = 0; k < 3; ++k) {
                const double diff = (n[q] > 0 ? sum[q][k] / n[q] : 0.0) - k_palette[c][k];
                d += diff * diff;
            }
            if (d < best) {
                best = d;
                colours[q] = k_first_colour + c;
            }
        }
    }
    return colours;
}

// kept[q] = fraction of quadrant q's pixels the mask keeps
std::array<double, k_n_quadrants> kept_fractions(const mask & keep) {
    std::array<double, k_n_quadrants> kept{}, area{};
    for (int32_t y = 0; y < keep.ny; ++y) {
        for (int32_t x = 0; x < keep.nx; ++x) {
            const int32_t q = quadrant_of(x, y, keep.nx, keep.ny);
            area[q] += 1.0;
            kept[q] += keep.keep[size_t(y) * keep.nx + x] ? 1.0 : 0.0;
        }
    }
    for (int32_t q = 0; q < k_n_quadrants; ++q) {
        kept[q] = area[q] > 0 ? kept[q] / area[q] : 0.0;
    }
    return kept;
}

// The mask as the engine sees it under a fit: cut, padded (margins count as kept: they are not the
// explanation's to remove) or resized like the image.
mask fit_mask(const mask & keep, fit_mode fit, int32_t fit_size) {
    if (fit == fit_mode::native) {
        return keep;
    }
    image_rgb8 as_image{keep.nx, keep.ny, std::vector<uint8_t>(keep.keep.size() * 3)};
    for (size_t i = 0; i < keep.keep.size(); ++i) {
        as_image.rgb[i * 3] = as_image.rgb[i * 3 + 1] = as_image.rgb[i * 3 + 2] = keep.keep[i] ? 255 : 0;
    }
    const image_rgb8 fitted = fit_image(as_image, fit, fit_size);
    mask out{fitted.nx, fitted.ny, std::vector<uint8_t>(size_t(fitted.nx) * fitted.ny)};
    for (size_t i = 0; i < out.keep.size(); ++i) {
        out.keep[i] = fitted.rgb[i * 3] >= 104 ? 1 : 0; // pad margins (122) and resampled kept pixels count as kept
    }
    return out;
}

// softmax over the vocabulary of the logits predicting answer position t
std::array<float, n_tokens> position_probs(int32_t t, const std::array<int32_t, k_n_quadrants> & colours,
                                           const std::array<double, k_n_quadrants> & kept) {
    std::array<double, n_tokens> logits{};
    if (t >= k_n_said) {
        logits[t_eos] = k_sure;
    } else {
        const int32_t q = t / 3;
        switch (t % 3) {
            case 0: logits[q / 2 == 0 ? t_top : t_bottom] = k_sure; break;
            case 1: logits[q % 2 == 0 ? t_left : t_right] = k_sure; break;
            default:
                for (int32_t c = 0; c < k_n_colours; ++c) {
                    logits[k_first_colour + c] = 1.0;
                }
                logits[colours[q]] += k_sure * kept[q];
        }
    }
    double sum = 0.0;
    for (double l : logits) {
        sum += std::exp(l);
    }
    std::array<float, n_tokens> p{};
    for (int32_t v = 0; v < n_tokens; ++v) {
        p[v] = float(std::exp(logits[v]) / sum);
    }
    return p;
}

class mock_model final : public vlm_model {
public:
    explicit mock_model(const model_params & params) : params_(params) {}

    const model_params & params() const override { return params_; }
    std::string description() const override {
        return "mock (analytic, 2x2 quadrants, " + std::to_string(n_tokens) + "-token vocabulary), 0 parameters";
    }
    int32_t n_vocab() const override { return n_tokens; }
    int32_t n_ctx_train() const override { return 4096; }
    bool has_chat_template() const override { return false; }

    std::vector<int32_t> tokenize(const std::string & text, bool /*add_bos*/, bool parse_special = false) const override {
        std::vector<int32_t> ids;
        std::istringstream in(text);
        std::string word;
        while (in >> word) {
            int32_t id = t_unk;
            for (int32_t v = parse_special ? 0 : t_top; v < n_tokens; ++v) {
                if (word == k_words[v]) {
                    id = v;
                }
            }
            ids.push_back(id);
        }
        return ids;
    }
    std::string token_piece(int32_t id) const override {
        if (id < 0 || id >= n_tokens) {
            throw error(errc::invalid_argument, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                    std::to_string(n_tokens - 1) + ")");
        }
        return k_words[id];
    }
    std::string detokenize(std::span<const int32_t> ids) const override {
        std::string text;
        for (int32_t id : ids) {
            if (id == t_eos || id == t_image) {
                continue; // control tokens dropped
            }
            if (!text.empty()) {
                text += ' ';
            }
            text += token_piece(id);
        }
        return text;
    }
    bool is_eog(int32_t id) const override { return id == t_eos; }
    int32_t eog_token() const override { return t_eos; }

    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const override {
        const size_t n_placeholders = prompt.find("<image>") == std::string::npos ? 0
                                    : prompt.find("<image>") == prompt.rfind("<image>") ? 1 : 2;
        if (n_placeholders > 1) {
            throw error(errc::invalid_argument, "prompt has several <image> placeholders; eagle explains one image at a time");
        }
        if (use_raw_prompt) {
            if (n_placeholders == 0) {
                throw error(errc::invalid_argument, "raw prompt '" + prompt + "' has no <image> placeholder");
            }
            return prompt;
        }
        return n_placeholders == 0 ? "<image>\n" + prompt : prompt;
    }

    // The "image" is four tokens, one per quadrant; the rest is the prompt's words.
    std::vector<sequence_part> prompt_sequence(const score_request & request) const override {
        std::vector<int32_t> ids = request.prompt_ids;
        image_span span;
        if (ids.empty()) {
            ids = tokenize(format_prompt(request.prompt, request.use_raw_prompt), false, true);
            span = find_image_span(*this, ids, t_image);
        } else {
            span = find_image_span(*this, ids, request.image_token);
        }
        sequence_part before, image, after;
        before.ids.assign(ids.begin(), ids.begin() + std::ptrdiff_t(span.begin));
        image.is_image = true;
        image.n_image_tokens = image.n_image_pos = k_n_quadrants;
        after.ids.assign(ids.begin() + std::ptrdiff_t(span.end), ids.end());
        return {before, image, after};
    }

protected:
    std::unique_ptr<vlm_session> make_session(const session_params & params) const override;

private:
    model_params params_;
};

class mock_session final : public vlm_session {
public:
    mock_session(const mock_model & model, const session_params & params) : model_(model), params_(params) {}

    generation generate(const generate_request & request) override {
        require_one_image(request.more_images.size() + 1, "mock");
        if (request.image.empty()) {
            throw error(errc::invalid_argument, "generate: the image is empty");
        }
        if (request.max_tokens <= 0) {
            throw error(errc::invalid_argument, "generate: max_tokens must be positive, got " + std::to_string(request.max_tokens));
        }
        check_prompt(request.prompt, request.use_raw_prompt, request.prompt_ids, request.image_token); // as scoring
        const std::array<int32_t, k_n_quadrants> colours = quadrant_colours(fit_image(request.image, request.fit, request.fit_size));
        const std::array<double, k_n_quadrants> all = {1.0, 1.0, 1.0, 1.0};
        generation out;
        std::vector<int32_t> ids;
        for (int32_t t = 0; t < request.max_tokens; ++t) {
            const std::array<float, n_tokens> p = position_probs(t, colours, all);
            int32_t best = 0;
            for (int32_t v = 1; v < n_tokens; ++v) {
                if (p[v] > p[best]) {
                    best = v; // ties: the lowest id, like the llama engine
                }
            }
            out.tokens.push_back({best, model_.token_piece(best), p[best], model_.is_eog(best)});
            if (model_.is_eog(best)) {
                break;
            }
            ids.push_back(best);
            out.is_cut = t + 1 == request.max_tokens;
        }
        out.text = model_.detokenize(ids);
        return out;
    }
    const session_params & params() const override { return params_; }

    void prepare(const score_request & request) override {
        require_one_image(request.more_images.size() + 1, "mock");
        scoped_timer timer(stats_.t_prepare_us);
        is_prepared_ = false;
        const resolved_request targets = resolve_request(request, model_.n_vocab());
        check_prompt(request.prompt, request.use_raw_prompt, request.prompt_ids, request.image_token);
        fit_image(request.image, request.fit, request.fit_size); // checks the fit
        targets_ = targets;
        nx_ = request.image.nx;
        ny_ = request.image.ny;
        fit_ = request.fit;
        fit_size_ = request.fit_size;
        colours_ = quadrant_colours(fit_image(request.image, fit_, fit_size_));
        is_prepared_ = true;
    }
    int32_t n_targets() const override { return int32_t(targets_.target_ids.size()); }

    void score(std::span<const mask> masks, std::span<float> probs) override {
        if (!is_prepared_) {
            throw error(errc::invalid_argument, "score: call prepare() first");
        }
        const size_t n = targets_.target_ids.size();
        if (probs.size() != masks.size() * n) {
            throw error(errc::invalid_argument, "score: output has " + std::to_string(probs.size()) + " values for " +
                                                    std::to_string(masks.size()) + " masks x " + std::to_string(n) + " targets");
        }
        for (const mask & keep : masks) {
            if (keep.nx != nx_ || keep.ny != ny_) {
                throw error(errc::invalid_argument, "score: mask is " + std::to_string(keep.nx) + "x" + std::to_string(keep.ny) +
                                                        " but the image is " + std::to_string(nx_) + "x" + std::to_string(ny_));
            }
        }
        scoped_timer timer(stats_.t_score_us);
        scoped_timer backend_timer(stats_.t_backend_us);
        for (size_t i = 0; i < masks.size(); ++i) {
            const std::array<double, k_n_quadrants> kept = kept_fractions(fit_mask(masks[i], fit_, fit_size_));
            for (size_t t = 0; t < n; ++t) {
                probs[i * n + t] = position_probs(targets_.target_indices[t], colours_, kept)[targets_.target_ids[t]];
            }
        }
        stats_.n_evaluations += int64_t(masks.size());
        // one "engine call" per group of n_seq masks, as a batched engine would make
        stats_.n_backend_calls += (int64_t(masks.size()) + params_.n_seq - 1) / params_.n_seq;
    }
    scorer_stats stats() const override { return stats_; }

private:
    // the prompt checks of scoring and generation: a well-formed text prompt, or ids with one image span
    void check_prompt(const std::string & prompt, bool use_raw_prompt, const std::vector<int32_t> & prompt_ids,
                      int32_t image_token) const {
        if (prompt_ids.empty()) {
            model_.format_prompt(prompt, use_raw_prompt);
        } else {
            find_image_span(model_, prompt_ids, image_token);
        }
    }

    const mock_model & model_;
    session_params params_;
    scorer_stats stats_;
    bool is_prepared_ = false;
    resolved_request targets_;
    int32_t nx_ = 0, ny_ = 0;
    fit_mode fit_ = fit_mode::native;
    int32_t fit_size_ = 0;
    std::array<int32_t, k_n_quadrants> colours_{};
};

std::unique_ptr<vlm_session> mock_model::make_session(const session_params & params) const {
    return std::make_unique<mock_session>(*this, params);
}

} // namespace

std::unique_ptr<vlm_model> load_mock_vlm(const model_params & params) {
    if (!params.engine.empty() && params.engine != "mock") {
        throw error(errc::invalid_argument, "load_mock_vlm: engine '" + params.engine + "' is not 'mock'");
    }
    return std::make_unique<mock_model>(params);
}

std::unique_ptr<vlm_model> load_mock_vlm() {
    model_params params;
    params.engine = "mock";
    return load_mock_vlm(params);
}

} // namespace eagle
