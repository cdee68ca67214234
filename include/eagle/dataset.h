// eagle/dataset.h - the reference's evaluation lists (datasets/*.json in github.com/RuoyuChen10/EAGLE) as
// explanation requests: the authors' token ids are scored exactly, nothing is re-tokenized.
//
// Their files are one JSON array of records. Every record stores `generated_ids` (flat or [[...]]): the whole
// chat-templated sequence a Hugging Face processor made, image placeholder run included, followed by the
// generated answer. The answer's length comes from `words` (one entry per answer token, "" for the end
// token: coco-caption, MMVP, RePOPE) or `output_word_id` (coco-object); the ids before it are the prompt.
// Targets, positions counted from the answer's first token:
//   selected_interpretation_token_id + selected_interpretation_token_word_id  (caption, MMVP: every token)
//   selected_interpretation_token_id + counter_word_id                        (RePOPE: "No" for a "Yes", revised)
//   target_generated_index + target_generated_id                              (coco-object: one word)
// The image is `image_path`, `image_name` or `image_filename` under image_dir; the output name is its stem
// (`<stem>_<id>` when the record has an `id`, as their RePOPE scripts name files). Ground truth for `eagle eval`
// is carried over: location, segmentation, label, question, id, select_category (also as category),
// counter_word_id.
// Thread safety: pure functions.
#pragma once

#include "eagle/record.h"

#include <nlohmann/json.hpp>

#include <string>

namespace eagle {

struct dataset_job {
    std::string name;            // the output name (a file stem)
    explanation_request request;
};

// Does this parsed file look like one of the reference's lists (an array of objects with generated_ids)?
bool is_reference_dataset(const nlohmann::json & file);

// One record of such a list on top of `base` (the search, region and fill settings). Throws
// errc::invalid_argument naming the key for a record that lacks one or whose ids disagree (answer longer than
// generated_ids, a target outside the answer, generated_ids not integers).
dataset_job reference_dataset_job(const nlohmann::json & record, const explanation_request & base, const std::string & image_dir);

} // namespace eagle
