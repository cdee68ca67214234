// explanation.json: the one file that spells its keys. Written from the typed record (to_json), read back for
// files only: the reference's own json/ folders, finished runs of a resumed dataset, `eagle eval` over folders.
// A process that still holds the record converts it in memory (to_eval_sample) instead of re-reading.
//
// Key order and value types are part of the format: the reference's keys first, with its meanings and float32
// values, then eagle's (answer, ranking, gains, reliance, search parameters, counts, timings, "run").
#include "eagle/report.h"

#include "eagle/error.h"
#include "eagle/scorer-json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string>

namespace eagle {

namespace {

using ordered_json = nlohmann::ordered_json;

// A parameter given as a decimal (0.1) is a float here; widened to a double it would be written
// 0.10000000149011612. The shortest decimal that reads back as the same float is the one the user gave, and
// reading the file back into a float gives the same parameter.
double as_decimal(float value) {
    char text[32];
    const auto printed = std::to_chars(text, text + sizeof text, value);
    double out = value;
    if (std::isfinite(value) && printed.ec == std::errc{}) {
        std::from_chars(text, printed.ptr, out);
    }
    return out;
}


// everything needed to repeat the run: versions, model, engine, image, prompt, answer and target choices,
// regions, fill, method
// The first image's size: the one image's, or the first part of several
std::array<int32_t, 2> first_image_size(const region_set & regions) {
    return regions.parts.empty() ? std::array<int32_t, 2>{regions.nx, regions.ny}
                                 : std::array<int32_t, 2>{regions.parts[0].nx, regions.parts[0].ny};
}

ordered_json run_json(const explanation_record & rec) {
    const explanation_request & rq = rec.request;
    const engine_record & en = rec.engine;
    ordered_json run = {{"eagle", en.eagle_version},
            {"llama_cpp", en.llama_cpp_version},
            {"engine", en.engine},
            {"servers", en.servers},
            {"rpc", en.rpc_servers},
            {"model", en.model_path},
            {"mmproj", en.mmproj_path},
            {"image", rq.image_path},
            {"prompt", rq.prompt},
            {"raw_prompt", rq.use_raw_prompt},
            {"chat_template", en.chat_template},
            {"system", en.system_prompt},
            {"prompt_ids", rq.prompt_ids},
            {"image_token", rq.image_token},
            {"threads", en.n_threads},
            {"workers", en.n_workers},
            {"batch", en.n_seq},
            {"ctx", en.n_ctx},
            {"flash_attn", en.use_flash_attn},
            {"kv_f32", en.use_f32_kv},
            {"blas", en.use_blas},
            {"approximate", en.is_approximate},      // true: probabilities from top-k log-probabilities (engine openai)
            {"calls", rec.scorer.n_backend_calls},   // the scorer's engine calls (openai: one per masked image and target)
            {"answer_given", rq.answer_text},
            {"answer_ids_given", rq.answer_ids},
            {"max_tokens", rq.max_tokens},
            {"eog_target", rq.append_eog},
            {"target_words", rq.target_words},
            {"target_indices", rq.target_indices},
            {"target_text", rq.target_text},
            {"target_token_ids", rq.target_token_ids},
            {"revise_all", rq.revise_all},
            {"segmenter", region_kind_name(rq.regions.kind)},
            {"divisions", rq.regions.n_divisions},
            {"grid", grid_text(rq.regions)},
            {"labels", rq.regions.labels_path},
            {"fill", fill_mode_name(rq.fill)},
            {"image_fit", fit_mode_name(rq.fit)},
            {"fit_size", rq.fit_size},
            {"method", rq.method},
            {"seed", rq.params.sampling.seed},
            {"samples", rq.params.sampling.n_samples},
            {"image_size", first_image_size(rec.regions)},
            {"scorer", to_explanation_json(rec.scorer)}};
    if (n_images(rec.regions) > 1) {
        // several images: each one's file (or a video's frame), size and share of the global region ids;
        // image_size above is the first's, whose files keep the one-image names
        ordered_json images = ordered_json::array();
        for (size_t k = 0; k < rec.regions.parts.size(); ++k) {
            const region_part & p = rec.regions.parts[k];
            const std::string path = k == 0 ? rq.image_path : k - 1 < rq.more_image_paths.size() ? rq.more_image_paths[k - 1] : "";
            images.push_back(ordered_json{{"image", path},
                                          {"image_size", {p.nx, p.ny}},
                                          {"first_region", p.first_region},
                                          {"n_regions", p.n_regions}});
        }
        run["images"] = std::move(images);
    }
    return run;
}

[[noreturn]] void bad_key(const std::string & source, const std::string & key, const std::string & what) {
    throw error(errc::io, source + ": '" + key + "' " + what);
}

const nlohmann::json & require(const nlohmann::json & j, const std::string & key, const std::string & source) {
    auto it = j.find(key);
    if (it == j.end()) {
        bad_key(source, key, "is missing");
    }
    return *it;
}

std::vector<double> numbers(const nlohmann::json & v, const std::string & key, const std::string & source) {
    if (!v.is_array()) {
        bad_key(source, key, "must be an array of numbers");
    }
    std::vector<double> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number()) {
            bad_key(source, key, "must be an array of numbers (element " + std::to_string(i) + " is " + v[i].type_name() + ")");
        }
        out.push_back(v[i].get<double>());
    }
    return out;
}

std::vector<std::vector<double>> number_rows(const nlohmann::json & v, const std::string & key, const std::string & source) {
    if (!v.is_array()) {
        bad_key(source, key, "must be an array of arrays of numbers");
    }
    std::vector<std::vector<double>> out;
    for (size_t k = 0; k < v.size(); ++k) {
        out.push_back(numbers(v[k], key + "[" + std::to_string(k) + "]", source));
    }
    return out;
}

std::vector<double> optional_numbers(const nlohmann::json & j, const std::string & key, const std::string & source) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? std::vector<double>{} : numbers(*it, key, source);
}

int64_t integer(const nlohmann::json & v, const std::string & key, const std::string & source) {
    if (!v.is_number_integer()) {
        bad_key(source, key, std::string("must be an integer, not ") + (v.is_number() ? v.dump() : v.type_name()));
    }
    return v.get<int64_t>();
}

std::vector<double> polygon(const nlohmann::json & v, const std::string & key, const std::string & source) {
    std::vector<double> p = numbers(v, key, source);
    if (p.size() >= 6 && p.size() % 2 != 0) {
        // the script's reshape(-1, 2) fails on it; shorter ones it skips before reshaping
        bad_key(source, key, "has an odd number (" + std::to_string(p.size()) + ") of coordinates");
    }
    return p;
}

// the reference's coco-object keys: location (box xyxy), segmentation (polygons)
void read_localisation(const nlohmann::json & j, const std::string & source, eval_sample & s) {
    if (auto it = j.find("location"); it != j.end() && !it->is_null()) {
        if (!it->is_array() || it->size() != 4) {
            bad_key(source, "location", "must be a box [x1, y1, x2, y2] of 4 integers");
        }
        std::array<int64_t, 4> box{};
        for (size_t i = 0; i < 4; ++i) {
            box[i] = integer((*it)[i], "location", source); // the script slices with them: ints only
        }
        s.location = box;
    }
    if (auto it = j.find("segmentation"); it != j.end()) {
        std::vector<std::vector<double>> polys;
        if (it->is_object()) {
            bad_key(source, "segmentation", "is an RLE mask; only COCO polygons are supported");
        } else if (it->is_array() && !it->empty()) {
            if ((*it)[0].is_array()) {
                // several polygons: a null one is skipped like a short one
                for (size_t p = 0; p < it->size(); ++p) {
                    if ((*it)[p].is_null()) {
                        continue;
                    }
                    polys.push_back(polygon((*it)[p], "segmentation[" + std::to_string(p) + "]", source));
                }
            } else {
                polys.push_back(polygon(*it, "segmentation", source));
            }
        } else if (!it->is_null() && !it->is_array()) {
            bad_key(source, "segmentation", "must be a COCO polygon list");
        }
        s.segmentation = polys; // null or [] -> an empty mask, as the script
    }

}

// the reference's `label` with `revised_answering`, else eagle's `hallucination` object; n ranking steps
void read_hallucination(const nlohmann::json & j, const std::string & source, size_t n, eval_sample & s) {
    const nlohmann::json * hallucination = nullptr;
    if (auto it = j.find("hallucination"); it != j.end() && it->is_object()) {
        hallucination = &*it;
    }
    std::string required_key;
    if (auto it = j.find("label"); it != j.end()) {
        // the script compares label with "yes" and "no" only: any other value (null too) is not evaluated
        if (!it->is_string() && !it->is_null()) {
            bad_key(source, "label", "must be a string (\"yes\" or \"no\")");
        }
        s.correct_prefix = it->is_string() ? prefix_for_label(it->get<std::string>()) : std::string();
        required_key = "label";
    } else if (hallucination != nullptr) {
        auto ca = hallucination->find("correct_answer");
        if (ca == hallucination->end() || !ca->is_string()) {
            bad_key(source, "hallucination.correct_answer", "is missing or not a string");
        }
        s.correct_prefix = ca->get<std::string>();
        required_key = "hallucination";
    }
    if (!s.correct_prefix.empty()) {
        const nlohmann::json * revised = nullptr;
        std::string key = "revised_answering";
        if (auto it = j.find("revised_answering"); it != j.end()) {
            revised = &*it;
        } else if (hallucination != nullptr && hallucination->contains("revised_answering")) {
            revised = &(*hallucination)["revised_answering"];
            key = "hallucination.revised_answering";
        } else {
            bad_key(source, "revised_answering", "is missing (needed with '" + required_key + "')");
        }
        if (!revised->is_array()) {
            bad_key(source, key, "must be an array of answers (strings or null)");
        }
        for (size_t k = 0; k < revised->size(); ++k) {
            const nlohmann::json & a = (*revised)[k];
            if (a.is_null()) {
                s.revised_answering.emplace_back(std::nullopt);
            } else if (a.is_string()) {
                s.revised_answering.emplace_back(a.get<std::string>());
            } else {
                bad_key(source, key, "element " + std::to_string(k) + " is " + a.type_name() + ", not a string or null");
            }
        }
        if (s.revised_answering.size() > n + 1) {
            bad_key(source, key, "has " + std::to_string(s.revised_answering.size()) + " answers for " + std::to_string(n) +
                                     " ranking steps");
        }
    }
}

// exactly what the model was fed: the prompt's text ids and image chunks in order, then the answer's ids
ordered_json scored_tokens_json(const explanation_record & rec) {
    ordered_json prompt = ordered_json::array();
    for (const sequence_part & p : rec.prompt_sequence) {
        if (p.is_image) {
            prompt.push_back({{"image_tokens", p.n_image_tokens}, {"image_positions", p.n_image_pos}});
        } else {
            prompt.push_back({{"text", p.ids}});
        }
    }
    return {{"prompt", prompt}, {"answer", rec.answer}};
}

ordered_json revised_json(const std::vector<std::optional<std::string>> & revised) {
    ordered_json out = ordered_json::array();
    for (const auto & answer : revised) {
        out.push_back(answer ? ordered_json(*answer) : ordered_json(nullptr));
    }
    return out;
}

} // namespace

nlohmann::ordered_json to_json(const explanation_record & rec) {
    const explanation & ex = rec.result;
    const explain_params & params = rec.request.params;
    ordered_json j;
    // --- the reference's keys, with its meanings ---
    j["insertion_score"]      = ex.insertion_score;
    j["deletion_score"]       = ex.deletion_score;
    j["smdl_score"]           = ex.smdl_score;
    j["insertion_word_score"] = ex.insertion_word_score;
    j["deletion_word_score"]  = ex.deletion_word_score;
    j["region_area"]          = ex.region_area;
    j["lambda1"]              = as_decimal(params.lambda1);
    j["lambda2"]              = as_decimal(params.lambda2);
    j["sub-region_number"]    = ex.n_regions;
    j["org_score"]            = ex.org_score;
    j["baseline_score"]       = ex.baseline_score;
    j["selected_interpretation_token_id"]      = rec.target_indices;
    j["selected_interpretation_token_word_id"] = rec.target_ids;
    j["words"]                = rec.words;
    // --- eagle's ---
    j["answer"]        = rec.answer_text;
    j["answer_ids"]    = rec.answer;
    j["answer_cut"]    = rec.is_answer_cut; // generated and stopped at max_tokens without the end token
    j["scored_tokens"] = scored_tokens_json(rec);
    j["order"]         = ex.order;
    j["n_ranked"]      = ex.n_ranked;
    j["is_complete"]   = ex.is_complete;
    j["marginal_gain"] = ex.marginal_gain;
    j["region_attribution"] = ex.region_value; // per region id (labels.png), the map's value in [0, 1]
    ordered_json reliance = ordered_json::array();
    for (size_t t = 0; t < ex.reliance.size(); ++t) {
        const token_reliance & r = ex.reliance[t];
        const int32_t index = t < rec.target_indices.size() ? rec.target_indices[t] : -1;
        reliance.push_back({{"index", index},
                            {"word", index >= 0 && size_t(index) < rec.words.size() ? rec.words[size_t(index)] : ""},
                            {"p_black", r.p_black},
                            {"p_full", r.p_full},
                            {"influence", r.influence},
                            {"influence_normalized", r.influence_normalized},
                            {"sensitive", r.is_sensitive},
                            {"verdict", r.is_visual ? "vision" : "language"}});
    }
    j["reliance"] = reliance;
    j["reliance_rule"] = "verdict = vision when influence I_t = AUC(insertion curve) - min(curve) >= 0.2, else language; "
                         "sensitive = p_full - p_black > 0.2";
    j["search"] = {{"method", attribution_method_name(params.method)},
                   {"mode", search_mode_name(params.mode)},
                   {"search_scope", params.efficient.search_scope},
                   {"pending_samples", params.efficient.pending_samples},
                   {"update_step", params.efficient.update_step},
                   {"lazy_batch", params.lazy.batch},
                   {"lazy_epsilon", as_decimal(params.lazy.epsilon)},
                   {"shortlist_top", params.shortlist.n_top},
                   {"shortlist_rounds", params.shortlist.max_rounds},
                   {"shortlist_neighbours", params.shortlist.use_neighbours},
                   {"shortlist_max_neighbours", params.shortlist.max_neighbours},
                   {"shortlist_tolerance", as_decimal(params.shortlist.tolerance)},
                   {"shortlist_predict_gains", params.shortlist.predict_gains},
                   {"shortlist_top_last_known", params.shortlist.n_top_last_known},
                   {"shortlist_rescreen_loss", as_decimal(params.shortlist.rescreen_loss)},
                   {"shortlist_rescreen_predicted", params.shortlist.rescreen_predicted},
                   {"shortlist_rescreen_every", params.shortlist.rescreen_every},
                   {"shortlist_rescreen_first", params.shortlist.rescreen_first},
                   {"shortlist_saturation", as_decimal(params.shortlist.saturation)},
                   {"shortlist_stall_room", as_decimal(params.shortlist.stall_room)},
                   {"shortlist_stall_backoff", params.shortlist.stall_backoff},
                   {"shortlist_back_neighbours", params.shortlist.back_neighbours},
                   {"shortlist_back_rescreen", params.shortlist.back_rescreen},
                   {"shortlist_back_loss_predicted", params.shortlist.back_loss_predicted},
                   {"shortlist_prior_margin", as_decimal(params.shortlist.prior_margin)},
                   {"shortlist_one_mask_margin", as_decimal(params.shortlist.one_mask_margin)},
                   {"shortlist_two_sided", params.shortlist.two_sided},
                   {"max_regions", params.budget.max_regions},
                   {"stop_fraction", as_decimal(params.budget.stop_fraction)}};
    const int64_t n = ex.n_regions;
    j["n_evaluations"] = ex.n_evaluations;
    j["n_evaluations_exact"] = n * (n + 1); // what the reference greedy costs, for comparison
    j["n_memo_hits"] = ex.n_memo_hits;
    j["t_search_us"] = ex.t_search_us;
    j["run"] = run_json(rec);
    for (const auto & [key, value] : rec.request.ground_truth.items()) {
        j[key] = value; // the dataset's ground truth (location, segmentation, label, ...) for eagle eval
    }
    if (rec.hallucination) {
        const hallucination_record & h = *rec.hallucination;
        const ordered_json revised = revised_json(h.revised_answering);
        const correction & c = h.result;
        j["revised_answering"] = revised; // the reference's key
        j["hallucination"] = {{"target_text", h.correct_answer},
                              {"correct_answer", h.correct_answer},
                              {"revised_answering", revised},
                              {"corrected_at_k", c.is_corrected ? ordered_json(c.n_kept) : ordered_json(nullptr)},
                              {"minimal_correction_region", c.is_corrected ? ordered_json(c.removed_fraction) : ordered_json(nullptr)},
                              {"within_10_percent", c.is_corrected && c.is_within_budget},
                              {"target_probability_curve", h.target_probability_curve}};
    }
    return j;
}

std::string explanation_json_text(const explanation_record & record) {
    return to_json(record).dump(1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

std::string reference_json_text(const explanation_record & record) {
    ordered_json j = to_json(record);
    if (!j.contains("select_category") && j.contains("category")) {
        j["select_category"] = j["category"];
    }
    return j.dump(1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

eval_sample to_eval_sample(const explanation_record & rec, const std::string & source) {
    const explanation & ex = rec.result;
    eval_sample s;
    s.source = source;
    const auto doubles = [](const std::vector<float> & v) { return std::vector<double>(v.begin(), v.end()); };
    const auto rows = [&](const std::vector<std::vector<float>> & v) {
        std::vector<std::vector<double>> out;
        for (const auto & row : v) out.push_back(doubles(row));
        return out;
    };
    s.log.insertion_score = doubles(ex.insertion_score);
    s.log.deletion_score = doubles(ex.deletion_score);
    s.log.region_area = doubles(ex.region_area);
    s.log.insertion_word_score = rows(ex.insertion_word_score);
    s.log.deletion_word_score = rows(ex.deletion_word_score);
    if (s.log.insertion_score.empty()) {
        throw error(errc::invalid_argument, source + ": the explanation has no ranking steps");
    }
    s.order = ex.order;
    s.region_attribution = doubles(ex.region_value);
    s.smdl_score = doubles(ex.smdl_score);
    s.org_score = doubles(ex.org_score);
    s.baseline_score = doubles(ex.baseline_score);
    s.image_size = first_image_size(rec.regions);
    // the ground truth is a dataset's own JSON; the diagnosis joins it under the keys the reader knows
    read_localisation(rec.request.ground_truth, source, s);
    nlohmann::json hallucination_keys = rec.request.ground_truth;
    if (rec.hallucination) {
        const ordered_json revised = revised_json(rec.hallucination->revised_answering);
        hallucination_keys["revised_answering"] = revised;
        hallucination_keys["hallucination"] = {{"correct_answer", rec.hallucination->correct_answer},
                                               {"revised_answering", revised}};
    }
    read_hallucination(hallucination_keys, source, s.log.insertion_score.size(), s);
    return s;
}

eval_sample eval_sample_from_json(const nlohmann::json & j, const std::string & source) {
    if (!j.is_object()) {
        throw error(errc::io, source + ": not a JSON object");
    }
    eval_sample s;
    s.source = source;
    explanation_log & log = s.log;
    log.insertion_score = numbers(require(j, "insertion_score", source), "insertion_score", source);
    log.deletion_score  = numbers(require(j, "deletion_score", source), "deletion_score", source);
    log.region_area     = numbers(require(j, "region_area", source), "region_area", source);
    log.insertion_word_score = number_rows(require(j, "insertion_word_score", source), "insertion_word_score", source);
    log.deletion_word_score  = number_rows(require(j, "deletion_word_score", source), "deletion_word_score", source);
    const size_t n = log.insertion_score.size();
    if (n == 0) {
        bad_key(source, "insertion_score", "is empty");
    }
    auto same_length = [&](size_t size, const std::string & key) {
        if (size != n) {
            bad_key(source, key, "has " + std::to_string(size) + " entries but 'insertion_score' has " + std::to_string(n));
        }
    };
    same_length(log.deletion_score.size(), "deletion_score");
    same_length(log.region_area.size(), "region_area");
    same_length(log.insertion_word_score.size(), "insertion_word_score");
    same_length(log.deletion_word_score.size(), "deletion_word_score");
    const size_t n_targets = log.insertion_word_score.back().size();
    for (size_t k = 0; k < n; ++k) {
        if (log.insertion_word_score[k].size() != n_targets || log.deletion_word_score[k].size() != n_targets) {
            bad_key(source, "insertion_word_score", "and 'deletion_word_score' rows must all have " +
                                                        std::to_string(n_targets) + " targets (row " + std::to_string(k) + " differs)");
        }
    }

    // the map (all optional; which are needed depends on the folder)
    if (auto it = j.find("order"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) {
            bad_key(source, "order", "must be an array of region ids");
        }
        for (const auto & v : *it) {
            s.order.push_back(int32_t(integer(v, "order", source)));
        }
    }
    s.region_attribution = optional_numbers(j, "region_attribution", source);
    s.smdl_score     = optional_numbers(j, "smdl_score", source);
    s.org_score      = optional_numbers(j, "org_score", source);
    s.baseline_score = optional_numbers(j, "baseline_score", source);
    if (auto run = j.find("run"); run != j.end() && run->is_object()) {
        if (auto size = run->find("image_size"); size != run->end() && !size->is_null()) {
            if (!size->is_array() || size->size() != 2) {
                bad_key(source, "run.image_size", "must be [width, height]");
            }
            s.image_size = std::array<int32_t, 2>{int32_t(integer((*size)[0], "run.image_size", source)),
                                                  int32_t(integer((*size)[1], "run.image_size", source))};
        }
    }

    read_localisation(j, source, s);
    read_hallucination(j, source, n, s);
    return s;
}

} // namespace eagle
