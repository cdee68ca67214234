// run_explanation: the whole pipeline of one explanation (image -> regions -> answer -> targets -> search ->
// correction walk) as one library call. The front ends parse options and print; everything else is here.
#include "eagle/run.h"

#include "eagle/version.h"
#include "eagle/error.h"
#include "eagle/log.h"
#include "common/prompt-fields.h"
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
    for (const std::string & spec : request.target_words) {
        const target_word_spec target = parse_target_word(spec);
        int32_t n_seen = 0;
        for (size_t i = 0; i < words.size(); ++i) {
            if (lower(trim_space(words[i])) == lower(trim_space(target.word))) {
                ++n_seen;
                if (target.occurrence == 0 || target.occurrence == n_seen) {
                    indices.push_back(int32_t(i));
                }
            }
        }
        if (n_seen == 0) {
            throw error(errc::invalid_argument, "target word '" + target.word + "' is not in the answer '" + answer_text + "'");
        }
        if (target.occurrence > n_seen) {
            throw error(errc::invalid_argument, "target word '" + spec + "': '" + target.word + "' occurs " + std::to_string(n_seen) +
                                                    " time(s) in the answer '" + answer_text + "'");
        }
    }
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    if (!request.target_text.empty() && !request.target_token_ids.empty()) {
        throw error(errc::invalid_argument, "target text '" + request.target_text + "' and target token ids both name the "
                                                                                   "token to score; give one");
    }
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
    if (!request.target_token_ids.empty()) {
        if (indices.empty()) {
            indices.push_back(0);
        }
        const size_t n_ids = request.target_token_ids.size();
        if (n_ids != 1 && n_ids != indices.size()) {
            throw error(errc::invalid_argument, std::to_string(n_ids) + " target token ids for " + std::to_string(indices.size()) +
                                                    " targets (give one, or one per target)");
        }
        out.ids = n_ids == 1 ? std::vector<int32_t>(indices.size(), request.target_token_ids.front()) : request.target_token_ids;
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
    for (const std::string & w : request.target_words) {
        parse_target_word(w);
    }
    fit_image(image_rgb8{}, request.fit, request.fit_size); // checks the fit size
    check_explain_params(request.params);
}

} // namespace

target_word_spec parse_target_word(const std::string & spec) {
    target_word_spec out{spec, 1};
    const size_t at = spec.rfind('@');
    if (at != std::string::npos) {
        const std::string tail = spec.substr(at + 1);
        const bool is_number = !tail.empty() && tail.size() <= 9 &&
                               std::all_of(tail.begin(), tail.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
        if (is_number || tail == "all") {
            out.word = spec.substr(0, at);
            out.occurrence = tail == "all" ? 0 : std::stoi(tail);
            if (is_number && out.occurrence < 1) {
                throw error(errc::invalid_argument, "target word '" + spec + "': occurrences count from 1");
            }
        }
    }
    if (trim_space(out.word).empty()) {
        throw error(errc::invalid_argument, "target word '" + spec + "' names no word");
    }
    return out;
}

explanation_record run_explanation(const vlm_model & model, vlm_session & session, const explanation_request & request,
                                   const run_progress_callback & progress) {
    check_request(request); // before the image is decoded, the answer generated or a region cut
    explanation_record rec;
    rec.request = request;
    rec.request.image = request.image.empty() ? load_image(request.image_path) : request.image;
    const image_rgb8 & image = rec.request.image;
    check_image_size(image.nx, image.ny, "run_explanation: the image"); // an in-memory image skips load_image's check
    if (rec.request.more_images.empty()) {
        for (const std::string & path : request.more_image_paths) {
            rec.request.more_images.push_back(load_image(path));
        }
    }
    for (size_t k = 0; k < rec.request.more_images.size(); ++k) {
        const image_rgb8 & more = rec.request.more_images[k];
        check_image_size(more.nx, more.ny, "run_explanation: image " + std::to_string(k + 2));
    }
    const std::vector<image_rgb8> & more_images = rec.request.more_images;
    if (request.revise && !more_images.empty()) {
        throw error(errc::unsupported, "run_explanation: the hallucination walk (--revise) takes one image, not " +
                                           std::to_string(more_images.size() + 1));
    }
    std::vector<region_set> per_image{make_regions(image, request.regions)};
    for (const image_rgb8 & more : more_images) {
        per_image.push_back(make_regions(more, request.regions));
    }
    int64_t n_regions = 0;
    for (const region_set & r : per_image) {
        n_regions += r.n_regions;
    }
    // found by fuzzing: a D close to the pixel count (or a fine grid) gave more regions than labels.png can hold,
    // which failed only after the whole search, when the folder was written
    if (n_regions > max_regions) {
        throw error(errc::invalid_argument, std::string("run_explanation: the ") +
                                                (more_images.empty() ? "image cuts" : std::to_string(per_image.size()) + " images cut") +
                                                " into " + std::to_string(n_regions) +
                                                " regions, more than eagle's limit of " + std::to_string(max_regions) +
                                                " (labels.png is 16-bit); use a smaller --divisions or a coarser --grid");
    }
    rec.regions = join_regions(per_image);

    const model_params & mp = model.params();
    const session_params & sp = session.params();
    rec.engine = engine_record{};
    rec.engine.eagle_version = version();
    rec.engine.llama_cpp_version = model.engine_version();
    rec.engine.engine = mp.engine;
    rec.engine.servers = mp.servers;
    rec.engine.rpc_servers = mp.rpc_servers;
    rec.engine.model_path = mp.model_path;
    rec.engine.mmproj_path = mp.mmproj_path;
    rec.engine.n_threads = mp.n_threads;
    rec.engine.n_seq = sp.n_seq;
    rec.engine.n_ctx = sp.n_ctx;
    rec.engine.use_flash_attn = sp.use_flash_attn;
    rec.engine.use_f32_kv = sp.use_f32_kv;
    rec.engine.use_blas = model.uses_blas();
    rec.engine.n_workers = model.n_workers();
    rec.engine.is_approximate = model.is_approximate();
    if (!request.use_raw_prompt && request.prompt_ids.empty()) { // else no template was applied: both stay empty
        const chat_family_info & family = chat_family_of(model.chat_format());
        rec.engine.chat_template = std::string(family.name);
        rec.engine.system_prompt = mp.system_prompt.value_or(std::string(family.default_system));
    }

    // the answer: given as ids, given as text, or the model's own (with its end token, as the reference explains it)
    if (!request.answer_ids.empty()) {
        rec.answer = request.answer_ids;
    } else if (request.answer_text.empty()) {
        generate_request asked;
        asked.image = image;
        asked.more_images = more_images;
        detail::copy_prompt_fields(request, asked);
        asked.max_tokens = request.max_tokens;
        const generation gen = session.generate(asked);
        for (const generated_token & t : gen.tokens) {
            if (!t.is_eog || request.append_eog) {
                rec.answer.push_back(t.id);
            }
        }
        rec.is_answer_cut = gen.is_cut;
        if (gen.is_cut) {
            log(log_level::warn, "the generated answer was cut at " + std::to_string(request.max_tokens) +
                                     " tokens without its end token (raise --max-tokens to explain the whole answer): '" +
                                     gen.text + "'\n");
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
        if (id < 0 || id >= model.n_vocab()) {
            throw error(errc::invalid_argument, "answer token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                    std::to_string(model.n_vocab() - 1) + ")");
        }
        rec.words.push_back(model.is_eog(id) ? std::string() : model.token_piece(id));
    }
    rec.answer_text = model.detokenize(rec.answer);

    const named_targets targets = resolve_targets(model, request, rec.answer, rec.words, rec.answer_text);
    score_request scoring;
    scoring.image = image;
    scoring.more_images = more_images;
    detail::copy_prompt_fields(request, scoring);
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
    rec.prompt_sequence = model.prompt_sequence(scoring);
    rec.result = explain(session, scoring, rec.regions, request.params, [&](int32_t n_done, int32_t n_total) {
        return !progress || progress(run_phase::search, n_done, n_total);
    });

    rec.scorer = session.stats(); // the search's counts: the walk below only generates

    if (request.revise && rec.result.is_complete) {
        // the correct answer: the target text, else the (first) target's own word
        const std::string correct = !request.target_text.empty()       ? request.target_text
                                    : !request.target_token_ids.empty() ? rec.target_pieces.front()
                                                                        : rec.words[size_t(rec.target_indices.front())];
        correction_walk_params walk;
        detail::copy_prompt_fields(request, walk);
        walk.max_tokens = request.max_tokens;
        walk.fill = request.fill;
        walk.walk_all = request.revise_all;
        rec.hallucination = find_minimal_correction(session, image, rec.regions, rec.result, correct, walk,
                                                    [&](int32_t n_done, int32_t n_total) {
                                                        return !progress || progress(run_phase::revise, n_done, n_total);
                                                    });
    }
    return rec;
}

} // namespace eagle
