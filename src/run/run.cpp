// run_explanation: the whole pipeline of one explanation (image -> regions -> answer -> targets -> search ->
// correction walk) as one library call. The front ends parse options and print; everything else is here.
#include "eagle/run.h"

#include "eagle/version.h"
#include "eagle/error.h"
#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace eagle {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// The targets a request names: answer positions, words (trimmed pieces, case-insensitive) and a target text
// (scored at position 0 unless positions are given). Ascending and unique; empty when the request names none
// (resolve_request then takes every token, and the answer's own ids where `ids` is empty).
struct named_targets {
    std::vector<int32_t> indices;
    std::vector<int32_t> ids;
};

named_targets resolve_targets(const vlm_model & model, const explanation_request & request,
                              const std::vector<int32_t> & answer, const std::vector<std::string> & words,
                              const std::string & answer_text) {
    named_targets out;
    std::vector<int32_t> & indices = out.indices;
    indices = request.target_indices;
    for (int32_t i : indices) {
        if (i < 0 || i >= int32_t(answer.size())) {
            throw error(errc::invalid_argument, "--target-index " + std::to_string(i) + " is outside the answer '" +
                                                    answer_text + "' (" + std::to_string(answer.size()) + " tokens)");
        }
    }
    for (const std::string & w : request.target_words) {
        bool found = false;
        for (size_t i = 0; i < words.size(); ++i) {
            if (lower(trim_space(words[i])) == lower(trim_space(w))) {
                indices.push_back(int32_t(i));
                found = true;
            }
        }
        if (!found) {
            throw error(errc::invalid_argument, "target word '" + w + "' is not in the answer '" + answer_text + "'");
        }
    }
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    if (!request.target_text.empty()) {
        const std::vector<int32_t> ids = model.tokenize(request.target_text, false);
        if (ids.empty()) {
            throw error(errc::invalid_argument, "--target-text '" + request.target_text + "' has no tokens");
        }
        if (indices.empty()) {
            indices.push_back(0);
        }
        out.ids.assign(indices.size(), ids.front());
    }
    return out;
}

void check_request(const explanation_request & request) {
    if (request.max_tokens < 1) {
        throw error(errc::invalid_argument, "run_explanation: max_tokens must be >= 1, got " + std::to_string(request.max_tokens));
    }
    const region_params & rp = request.regions;
    if (rp.kind == region_kind::slico && rp.n_divisions < 1) {
        throw error(errc::invalid_argument, "run_explanation: regions.n_divisions must be >= 1, got " + std::to_string(rp.n_divisions));
    }
    if (rp.kind == region_kind::grid && (rp.n_cols < 1 || rp.n_rows < 1)) {
        throw error(errc::invalid_argument, "run_explanation: regions grid cells must be >= 1 per side, got " + grid_text(rp));
    }
    check_explain_params(request.params);
}

} // namespace

explanation_record run_explanation(const vlm_model & model, vlm_session & session, const explanation_request & request,
                                   const run_progress_callback & progress) {
    check_request(request); // before the image is decoded, the answer generated or a region cut
    explanation_record rec;
    rec.request = request;
    rec.request.image = request.image.empty() ? load_image(request.image_path) : request.image;
    const image_rgb8 & image = rec.request.image;
    check_image_size(image.nx, image.ny, "run_explanation: the image"); // an in-memory image skips load_image's check
    rec.regions = make_regions(image, request.regions);
    // found by fuzzing: a D close to the pixel count (or a fine grid) gave more regions than labels.png can hold,
    // which failed only after the whole search, when the folder was written
    if (rec.regions.n_regions > max_regions) {
        throw error(errc::invalid_argument, "run_explanation: the image cuts into " + std::to_string(rec.regions.n_regions) +
                                                " regions, more than eagle's limit of " + std::to_string(max_regions) +
                                                " (labels.png is 16-bit); use a smaller --divisions or a coarser --grid");
    }

    const model_params & mp = model.params();
    const session_params & sp = session.params();
    rec.engine = {version(), model.engine_version(), mp.model_path, mp.mmproj_path, mp.n_threads,
                  sp.n_seq, sp.n_ctx, sp.use_flash_attn};

    // the answer: given, or the model's own (with its end token, as the reference explains it)
    if (request.answer_text.empty()) {
        const generation gen = session.generate({image, request.prompt, request.use_raw_prompt, request.max_tokens});
        for (const generated_token & t : gen.tokens) {
            if (!t.is_eog || request.append_eog) {
                rec.answer.push_back(t.id);
            }
        }
    } else {
        rec.answer = model.tokenize(request.answer_text, false);
        if (request.append_eog) {
            rec.answer.push_back(model.eog_token());
        }
    }
    if (rec.answer.empty()) {
        throw error(errc::invalid_argument, "the answer is empty: nothing to explain");
    }
    for (int32_t id : rec.answer) {
        rec.words.push_back(model.is_eog(id) ? std::string() : model.token_piece(id));
    }
    rec.answer_text = model.detokenize(rec.answer);

    const named_targets targets = resolve_targets(model, request, rec.answer, rec.words, rec.answer_text);
    score_request scoring;
    scoring.image = image;
    scoring.prompt = request.prompt;
    scoring.use_raw_prompt = request.use_raw_prompt;
    scoring.fill = request.fill;
    scoring.answer = rec.answer;
    scoring.target_indices = targets.indices;
    scoring.target_ids = targets.ids;
    // the defaults (every token, scored as itself) are the scorer's: record what it will score
    const resolved_request resolved = resolve_request(scoring, model.n_vocab());
    rec.target_indices = resolved.target_indices;
    rec.target_ids = resolved.target_ids;
    for (int32_t id : rec.target_ids) {
        rec.target_pieces.push_back(model.is_eog(id) ? std::string() : model.token_piece(id));
    }
    rec.result = explain(session, scoring, rec.regions, request.params, [&](int32_t n_done, int32_t n_total) {
        return !progress || progress(run_phase::search, n_done, n_total);
    });

    rec.scorer = session.stats(); // the search's counts: the walk below only generates

    if (request.revise && rec.result.is_complete) {
        // the correct answer: the target text, else the (first) target's own word
        const std::string correct = request.target_text.empty() ? rec.words[size_t(rec.target_indices.front())] : request.target_text;
        correction_walk_params walk;
        walk.prompt = request.prompt;
        walk.use_raw_prompt = request.use_raw_prompt;
        walk.max_tokens = request.max_tokens;
        walk.fill = request.fill;
        rec.hallucination = find_minimal_correction(session, image, rec.regions, rec.result, correct, walk,
                                                    [&](int32_t n_done, int32_t n_total) {
                                                        return !progress || progress(run_phase::revise, n_done, n_total);
                                                    });
    }
    return rec;
}

} // namespace eagle
