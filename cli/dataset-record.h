// One record of a dataset run (`eagle explain --dataset FILE.jsonl`): a JSON object on one line, parsed into the
// request it asks for. Kept apart from the run loop so that the fuzz target (tests/fuzz) reaches the same code.
#pragma once

#include "eagle/run.h"

#include <filesystem>
#include <string>

namespace eagle::cli {

struct dataset_job {
    int line = 0;                 // 1-based line in the file
    explanation_request request;
    std::string name;             // the record's id after safe_name
    std::string out_dir;          // out_root/<id>
};

// Keys: image (required; a relative path is relative to `base`, the file's folder), prompt (required unless
// prompt_ids), id (the output folder's name after safe_name; default line-N), answer, answer_ids, prompt_ids,
// image_token, target_words, target_indices, target_text, target_token_ids, revise; and ground truth copied into explanation.json for `eagle eval`: location, segmentation, label,
// category, question. Everything else comes from `defaults`. Throws errc::invalid_argument with what is wrong
// (malformed JSON, not an object, a missing or mistyped key).
dataset_job parse_dataset_record(const std::string & text, int line, const explanation_request & defaults,
                                 const std::filesystem::path & base, const std::string & out_root);

// a record id as a folder name: [A-Za-z0-9._-] kept, anything else '_'; never empty, ".", "..", nor a path
std::string safe_name(const std::string & id);

} // namespace eagle::cli
