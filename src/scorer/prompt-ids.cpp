// find_image_span: where the image goes in a prompt given as token ids. Hugging Face processors expand the
// image into a run of one placeholder id (LLaVA-1.5: 576 x "<image>"; Qwen2.5-VL: "<|image_pad|>" between
// <|vision_start|> and <|vision_end|>; InternVL: "<IMG_CONTEXT>" between <img> and </img>); the reference's
// datasets store those ids, and an engine replaces that run by its own image tokens.
#include "eagle/vlm.h"

#include "eagle/error.h"

#include <array>

namespace eagle {

namespace {

// The placeholder pieces of the families libmtmd runs, as their vocabularies spell them.
constexpr std::array<const char *, 8> k_placeholder_pieces = {
    "<image>", "<|image_pad|>", "<IMG_CONTEXT>", "<image_soft_token>", "<|image|>", "<|IMAGE|>", "<image_placeholder>", "<|img|>"};

std::string ids_text(std::span<const int32_t> ids) {
    std::string out;
    for (size_t i = 0; i < ids.size() && i < 12; ++i) {
        if (i > 0) {
            out += ' ';
        }
        out += std::to_string(ids[i]);
    }
    return out + (ids.size() > 12 ? " ... (" + std::to_string(ids.size()) + " ids)" : "");
}

// the runs of `token` in ids: [begin, end) pairs
std::vector<std::pair<size_t, size_t>> runs_of(std::span<const int32_t> ids, int32_t token) {
    std::vector<std::pair<size_t, size_t>> runs;
    for (size_t i = 0; i < ids.size();) {
        if (ids[i] != token) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < ids.size() && ids[j] == token) {
            ++j;
        }
        runs.emplace_back(i, j);
        i = j;
    }
    return runs;
}

} // namespace

image_span find_image_span(const vlm_model & model, std::span<const int32_t> ids, int32_t image_token) {
    if (ids.empty()) {
        throw error(errc::invalid_argument, "prompt ids are empty");
    }
    for (int32_t id : ids) {
        if (id < 0 || id >= model.n_vocab()) {
            throw error(errc::invalid_argument, "prompt id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                    std::to_string(model.n_vocab() - 1) + ")");
        }
    }
    int32_t token = image_token;
    if (token < 0) {
        for (const char * piece : k_placeholder_pieces) {
            const std::vector<int32_t> t = model.tokenize(piece, false, true);
            // one token spelled exactly so (an unknown piece would come back as <unk>)
            if (t.size() == 1 && model.token_piece(t[0]) == piece && !runs_of(ids, t[0]).empty()) {
                token = t[0];
                break;
            }
        }
    }
    if (token < 0) {
        // a vocabulary without a placeholder token: the longest run of one repeated id (an image is 64+ ids)
        size_t best = 0;
        for (size_t i = 0; i < ids.size();) {
            size_t j = i;
            while (j < ids.size() && ids[j] == ids[i]) {
                ++j;
            }
            if (j - i > best) {
                best = j - i;
                token = ids[i];
            }
            i = j;
        }
        if (best < 4) {
            throw error(errc::invalid_argument, "prompt ids [" + ids_text(ids) + "] have no image placeholder: none of the "
                                                "vocabulary's placeholder tokens and no run of 4 or more equal ids; name it "
                                                "(image_token / --image-token)");
        }
    }
    const std::vector<std::pair<size_t, size_t>> runs = runs_of(ids, token);
    if (runs.empty()) {
        throw error(errc::invalid_argument, "image token " + std::to_string(token) + " is not in the prompt ids [" + ids_text(ids) + "]");
    }
    if (runs.size() > 1) {
        throw error(errc::invalid_argument, "image token " + std::to_string(token) + " forms " + std::to_string(runs.size()) +
                                                " runs in the prompt ids; eagle explains one image at a time");
    }
    return {runs[0].first, runs[0].second, token};
}

} // namespace eagle
