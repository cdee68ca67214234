// !!! Internal header !!! The prompt and image-preparation fields that an explanation, the correction walk, a
// score_request and a generate_request all carry under the same names: copied in one place, so a field added to
// the prompt reaches every request built from another.
#pragma once

namespace eagle::detail {

template <class From, class To>
void copy_prompt_fields(const From & from, To & to) {
    to.prompt         = from.prompt;
    to.use_raw_prompt = from.use_raw_prompt;
    to.prompt_ids     = from.prompt_ids;
    to.image_token    = from.image_token;
    to.fit            = from.fit;
    to.fit_size       = from.fit_size;
}

} // namespace eagle::detail
