#include "eagle/correction.h"

#include "eagle/error.h"
#include "common/prompt-fields.h"
#include "common/text.h"


namespace eagle {


hallucination_record find_minimal_correction(vlm_session & session, const image_rgb8 & image, const region_set & regions,
                                             const explanation & ex, const std::string & correct_answer,
                                             const correction_walk_params & params, const correction_progress & progress) {
    const int32_t n = ex.n_regions;
    if (regions.nx != image.nx || regions.ny != image.ny || regions.n_regions != n || int32_t(ex.order.size()) != n ||
        int32_t(ex.region_area.size()) != n) {
        throw error(errc::invalid_argument, "find_minimal_correction: the explanation ranks " + std::to_string(ex.order.size()) +
                                                " regions, the region set has " + std::to_string(regions.n_regions) + " of a " +
                                                std::to_string(regions.nx) + "x" + std::to_string(regions.ny) + " image");
    }
    hallucination_record out;
    out.correct_answer = trim_space(correct_answer);
    out.revised_answering.assign(size_t(n), std::nullopt);
    for (const auto & row : ex.insertion_word_score) {
        out.target_probability_curve.push_back(row.front());
    }
    const image_rgb8 fill_image = make_fill_image(image, params.fill);
    std::vector<uint8_t> keep(size_t(n), 1);
    image_rgb8 masked;
    // keep the top-k regions for k = n, n-1, ...: remove the lowest-ranked region still kept at each step
    for (int32_t k = n; k >= 1; --k) {
        if (k < n) {
            keep[size_t(ex.order[size_t(k)])] = 0;
        }
        apply_mask(image, fill_image, region_mask(regions, keep), masked);
        generate_request request;
        request.image = masked;
        detail::copy_prompt_fields(params, request);
        request.max_tokens = params.max_tokens;
        const generation g = session.generate(request);
        out.revised_answering[size_t(k - 1)] = g.text;
        const bool is_corrected = g.text.rfind(out.correct_answer, 0) == 0;
        if ((progress && !progress(n - k + 1, n)) || (is_corrected && !params.walk_all)) {
            break;
        }
    }
    std::vector<double> area(ex.region_area.begin(), ex.region_area.end());
    out.result = minimal_correction(out.revised_answering, area, out.correct_answer);
    return out;
}

} // namespace eagle
