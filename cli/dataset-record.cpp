#include "dataset-record.h"

#include "eagle/error.h"

#include <nlohmann/json.hpp>

#include <cctype>

namespace eagle::cli {

std::string safe_name(const std::string & id) {
    std::string out;
    for (unsigned char c : id) {
        out.push_back(std::isalnum(c) || c == '-' || c == '_' || c == '.' ? char(c) : '_');
    }
    return out.empty() || out == "." || out == ".." ? "sample" : out;
}

dataset_job parse_dataset_record(const std::string & text, int line, const explanation_request & defaults,
                                 const std::filesystem::path & base, const std::string & out_root) {
    using json = nlohmann::json;
    json record;
    try {
        record = json::parse(text);
    } catch (const json::exception & e) {
        throw error(errc::invalid_argument, std::string("malformed JSON: ") + e.what());
    }
    if (!record.is_object()) {
        throw error(errc::invalid_argument, "a record must be a JSON object");
    }
    if (!record.contains("image") || !record["image"].is_string()) {
        throw error(errc::invalid_argument, "missing \"image\" (a path)");
    }
    if (!record.contains("prompt_ids") && (!record.contains("prompt") || !record["prompt"].is_string())) {
        throw error(errc::invalid_argument, "missing \"prompt\" (or \"prompt_ids\")");
    }
    dataset_job j;
    j.line = line;
    explanation_request & rq = j.request;
    rq = defaults;
    try {
        const std::filesystem::path image = record["image"].get<std::string>();
        rq.image_path = (image.is_absolute() ? image : base / image).string();
        rq.prompt = record.value("prompt", std::string());
        rq.prompt_ids = record.value("prompt_ids", std::vector<int32_t>());
        rq.image_token = record.value("image_token", int32_t(-1));
        rq.answer_text = record.value("answer", std::string());
        rq.answer_ids = record.value("answer_ids", std::vector<int32_t>());
        rq.target_words = record.value("target_words", std::vector<std::string>());
        rq.target_indices = record.value("target_indices", std::vector<int32_t>());
        rq.target_text = record.value("target_text", std::string());
        rq.target_token_ids = record.value("target_token_ids", std::vector<int32_t>());
        rq.revise = record.value("revise", defaults.revise);
    } catch (const json::exception & e) {
        throw error(errc::invalid_argument, std::string("a key has the wrong type: ") + e.what());
    }
    for (const char * key : {"location", "segmentation", "label", "category", "question"}) {
        if (record.contains(key)) {
            rq.ground_truth[key] = record[key];
        }
    }
    rq.ground_truth["dataset_line"] = line;
    const std::string name =
        safe_name(record.contains("id") ? (record["id"].is_string() ? record["id"].get<std::string>() : record["id"].dump())
                                        : "line-" + std::to_string(line));
    rq.ground_truth["id"] = name;
    j.name = name;
    j.out_dir = (std::filesystem::path(out_root) / name).string();
    return j;
}

} // namespace eagle::cli
