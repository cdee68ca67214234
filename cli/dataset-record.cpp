#include "dataset-record.h"

#include "eagle/error.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <vector>

namespace eagle::cli {

std::string safe_name(const std::string & id) {
    std::string out;
    for (unsigned char c : id) {
        out.push_back(std::isalnum(c) || c == '-' || c == '_' || c == '.' ? char(c) : '_');
    }
    return out.empty() || out == "." || out == ".." ? "sample" : out;
}

namespace {

using json = nlohmann::json;

// An int32 from a record's value: an integer in range, else an error naming the key and the value (a float such as
// 1e300 cast to an integer is undefined behaviour, which is what nlohmann's get<int32_t> does with it).
int32_t int32_at(const json & v, const char * key) {
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(INT32_MAX)
                          : v.is_number_integer() && v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX;
    if (!in_range) {
        throw error(errc::invalid_argument, std::string("\"") + key + "\" must hold 32-bit integers, got " + v.dump());
    }
    return int32_t(v.get<int64_t>());
}

std::vector<int32_t> int32s_at(const json & record, const char * key) {
    if (!record.contains(key)) return {};
    const json & v = record[key];
    if (!v.is_array()) {
        throw error(errc::invalid_argument, std::string("\"") + key + "\" must be an array of integers");
    }
    std::vector<int32_t> out;
    out.reserve(v.size());
    for (const json & x : v) out.push_back(int32_at(x, key));
    return out;
}

} // namespace

dataset_job parse_dataset_record(const std::string & text, int line, const explanation_request & defaults,
                                 const std::filesystem::path & base, const std::string & out_root) {
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
        rq.prompt_ids = int32s_at(record, "prompt_ids");
        rq.image_token = record.contains("image_token") ? int32_at(record["image_token"], "image_token") : -1;
        rq.answer_text = record.value("answer", std::string());
        rq.answer_ids = int32s_at(record, "answer_ids");
        rq.target_words = record.value("target_words", std::vector<std::string>());
        rq.target_indices = int32s_at(record, "target_indices");
        rq.target_text = record.value("target_text", std::string());
        rq.target_token_ids = int32s_at(record, "target_token_ids");
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
