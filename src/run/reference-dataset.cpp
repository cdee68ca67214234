// The reference's evaluation lists as requests (see eagle/dataset.h for the format).
#include "eagle/dataset.h"

#include "eagle/error.h"

#include <filesystem>

namespace eagle {

namespace {

[[noreturn]] void bad(const std::string & key, const std::string & what) {
    throw error(errc::invalid_argument, "reference record: '" + key + "' " + what);
}

std::vector<int32_t> ids_of(const nlohmann::json & v, const std::string & key) {
    const nlohmann::json & flat = v.is_array() && v.size() == 1 && v[0].is_array() ? v[0] : v; // [[...]] or [...]
    if (!flat.is_array()) {
        bad(key, "must be a list of token ids");
    }
    std::vector<int32_t> out;
    for (const auto & x : flat) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) {
            bad(key, "must hold token ids (non-negative integers), found " + x.dump());
        }
        out.push_back(int32_t(x.get<int64_t>()));
    }
    return out;
}

const nlohmann::json & need(const nlohmann::json & r, const std::string & key) {
    auto it = r.find(key);
    if (it == r.end()) {
        bad(key, "is missing");
    }
    return *it;
}

} // namespace

bool is_reference_dataset(const nlohmann::json & file) {
    return file.is_array() && !file.empty() && file[0].is_object() && file[0].contains("generated_ids");
}

dataset_job reference_dataset_job(const nlohmann::json & r, const explanation_request & base, const std::string & image_dir) {
    if (!r.is_object()) {
        throw error(errc::invalid_argument, "reference record: not a JSON object");
    }
    dataset_job job;
    explanation_request & rq = job.request;
    rq = base;

    std::string image;
    for (const char * key : {"image_path", "image_name", "image_filename"}) {
        if (r.contains(key) && r[key].is_string()) {
            image = r[key].get<std::string>();
            break;
        }
    }
    if (image.empty()) {
        bad("image_path", "is missing (or image_name, image_filename)");
    }
    const std::filesystem::path image_path(image);
    rq.image_path = (image_path.is_absolute() ? image_path : std::filesystem::path(image_dir) / image_path).string();
    job.name = image_path.stem().string();
    if (auto id = r.find("id"); id != r.end() && !id->is_null()) {
        job.name += "_" + (id->is_string() ? id->get<std::string>() : id->dump());
    }

    // the answer is the tail of generated_ids; its length is what words / output_word_id count
    const std::vector<int32_t> all = ids_of(need(r, "generated_ids"), "generated_ids");
    size_t n_answer = 0;
    if (r.contains("output_word_id")) {
        n_answer = ids_of(r["output_word_id"], "output_word_id").size();
    } else if (r.contains("words") && r["words"].is_array()) {
        n_answer = r["words"].size();
    } else {
        bad("words", "is missing (or output_word_id): the answer's length is unknown");
    }
    if (n_answer == 0 || n_answer >= all.size()) {
        bad("generated_ids", "has " + std::to_string(all.size()) + " ids for an answer of " + std::to_string(n_answer));
    }
    rq.prompt_ids.assign(all.begin(), all.end() - std::ptrdiff_t(n_answer));
    rq.answer_ids.assign(all.end() - std::ptrdiff_t(n_answer), all.end());
    if (r.contains("output_word_id") && ids_of(r["output_word_id"], "output_word_id") != rq.answer_ids) {
        bad("output_word_id", "is not the tail of generated_ids");
    }
    // the question is text shown in the report; a record whose question is not a string keeps it out of the prompt
    rq.prompt = r.contains("question") && r["question"].is_string() ? r["question"].get<std::string>() : std::string();
    rq.answer_text.clear();
    rq.target_words.clear();
    rq.target_text.clear();

    // the targets, as positions in the answer and the ids scored there
    if (r.contains("target_generated_index")) {
        const nlohmann::json & index = r["target_generated_index"];
        if (!index.is_number_integer() || index.get<int64_t>() < 0 || index.get<int64_t>() >= int64_t(n_answer)) {
            bad("target_generated_index", "must be a position in the answer of " + std::to_string(n_answer) +
                                              " tokens, found " + index.dump());
        }
        rq.target_indices = {int32_t(index.get<int64_t>())};
        rq.target_token_ids = ids_of(nlohmann::json::array({need(r, "target_generated_id")}), "target_generated_id");
    } else {
        const nlohmann::json & sel = need(r, "selected_interpretation_token_id");
        rq.target_indices = ids_of(sel, "selected_interpretation_token_id");
        const char * ids_key = r.contains("counter_word_id") ? "counter_word_id" : "selected_interpretation_token_word_id";
        rq.target_token_ids = ids_of(need(r, ids_key), ids_key);
        if (rq.target_token_ids.size() != rq.target_indices.size()) {
            bad(ids_key, "has " + std::to_string(rq.target_token_ids.size()) + " ids for " +
                             std::to_string(rq.target_indices.size()) + " selected positions");
        }
        rq.revise = base.revise || r.contains("counter_word_id"); // RePOPE: the revised answers are the point
    }
    for (int32_t t : rq.target_indices) {
        if (t < 0 || size_t(t) >= n_answer) {
            bad("selected_interpretation_token_id", "position " + std::to_string(t) + " is outside the answer of " +
                                                        std::to_string(n_answer) + " tokens");
        }
    }

    for (const char * key : {"location", "segmentation", "label", "question", "id", "select_category", "counter_word_id"}) {
        if (r.contains(key)) {
            rq.ground_truth[key] = r[key];
        }
    }
    if (r.contains("select_category")) {
        rq.ground_truth["category"] = r["select_category"];
    }
    return job;
}

} // namespace eagle
