#include "eagle/report.h"

#include "eagle/error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace eagle {

namespace {

void write_or_throw(const std::string & path, const char * data, size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data, std::streamsize(n));
    out.close();
    if (!out) {
        throw error(errc::io, "cannot write '" + path + "'");
    }
}

} // namespace

void write_file_atomic(const std::string & path, const std::string & content) {
    const std::string tmp = path + ".tmp";
    write_or_throw(tmp, content.data(), content.size());
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw error(errc::io, "cannot write '" + path + "'");
    }
}

std::string png_bytes(const image_rgb8 & image) {
    cv::Mat rgb(image.ny, image.nx, CV_8UC3, const_cast<uint8_t *>(image.rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<uint8_t> buf;
    if (!cv::imencode(".png", bgr, buf)) {
        throw error(errc::io, "cannot encode a PNG");
    }
    return std::string(buf.begin(), buf.end());
}

nlohmann::ordered_json explanation_to_json(const explanation & ex, const explanation_context & ctx, const explain_params & params) {
    using json = nlohmann::ordered_json;
    json j;
    // --- the reference's keys, with its meanings ---
    j["insertion_score"]      = ex.insertion_score;
    j["deletion_score"]       = ex.deletion_score;
    j["smdl_score"]           = ex.smdl_score;
    j["insertion_word_score"] = ex.insertion_word_score;
    j["deletion_word_score"]  = ex.deletion_word_score;
    j["region_area"]          = ex.region_area;
    j["lambda1"]              = params.lambda1;
    j["lambda2"]              = params.lambda2;
    j["sub-region_number"]    = ex.n_regions;
    j["org_score"]            = ex.org_score;
    j["baseline_score"]       = ex.baseline_score;
    j["selected_interpretation_token_id"]      = ctx.target_indices;
    j["selected_interpretation_token_word_id"] = ctx.target_ids;
    j["words"]                = ctx.words;
    // --- eagle's ---
    j["answer"]       = ctx.answer_text;
    j["answer_ids"]   = ctx.answer;
    j["order"]        = ex.order;
    j["n_ranked"]     = ex.n_ranked;
    j["is_complete"]  = ex.is_complete;
    j["marginal_gain"] = ex.marginal_gain;
    j["region_attribution"] = ex.region_value; // per region id (labels.png), the map's value in [0, 1]
    json reliance = json::array();
    for (size_t t = 0; t < ex.reliance.size(); ++t) {
        const token_reliance & r = ex.reliance[t];
        const int32_t index = t < ctx.target_indices.size() ? ctx.target_indices[t] : -1;
        reliance.push_back({{"index", index},
                            {"word", index >= 0 && size_t(index) < ctx.words.size() ? ctx.words[index] : ""},
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
                   {"lazy_epsilon", params.lazy.epsilon},
                   {"max_regions", params.budget.max_regions},
                   {"stop_fraction", params.budget.stop_fraction}};
    const int64_t n = ex.n_regions;
    j["n_evaluations"] = ex.n_evaluations;
    j["n_evaluations_exact"] = n * (n + 1); // what the reference greedy costs, for comparison
    j["n_memo_hits"] = ex.n_memo_hits;
    j["t_search_us"] = ex.t_search_us;
    j["run"] = ctx.run;
    return j;
}

void write_regions_npy(const explanation & ex, const region_set & regions, const std::string & path) {
    const size_t n = ex.order.size(), n_px = regions.labels.size();
    std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " +
                         std::to_string(regions.ny) + ", " + std::to_string(regions.nx) + ", 1), }";
    // NPY v1.0: magic, version, header length; the header padded with spaces to a multiple of 64, ending in \n
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    const uint16_t len = uint16_t(header.size());
    out.push_back(char(len & 0xff));
    out.push_back(char(len >> 8));
    out += header;
    const size_t offset = out.size();
    out.resize(offset + n * n_px);
    for (size_t k = 0; k < n; ++k) {
        char * dst = out.data() + offset + k * n_px;
        for (size_t i = 0; i < n_px; ++i) {
            dst[i] = regions.labels[i] == ex.order[k] ? 1 : 0;
        }
    }
    write_file_atomic(path, out);
}

image_rgb8 render_overlay(const image_rgb8 & image, const std::vector<float> & map, colormap cmap) {
    if (map.size() != size_t(image.nx) * image.ny) {
        throw error(errc::invalid_argument, "render_overlay: map has " + std::to_string(map.size()) + " values for a " +
                                                std::to_string(image.nx) + "x" + std::to_string(image.ny) + " image");
    }
    cv::Mat m(image.ny, image.nx, CV_32F, const_cast<float *>(map.data()));
    cv::Mat m8;
    m.convertTo(m8, CV_8U, 255.0);
    // the reference's smoothing: down by 20, back up (bilinear), so region edges fade
    const int sx = std::max(1, image.nx / 20), sy = std::max(1, image.ny / 20);
    cv::Mat small, smooth;
    cv::resize(m8, small, cv::Size(sx, sy), 0, 0, cv::INTER_LINEAR);
    cv::resize(small, smooth, cv::Size(image.nx, image.ny), 0, 0, cv::INTER_LINEAR);
    cv::Mat colored;
    cv::applyColorMap(smooth, colored, cmap == colormap::viridis ? cv::COLORMAP_VIRIDIS : cv::COLORMAP_COOL);
    cv::Mat rgb(image.ny, image.nx, CV_8UC3, const_cast<uint8_t *>(image.rgb.data()));
    cv::Mat bgr, blended;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    cv::addWeighted(bgr, 0.5, colored, 0.5, 0.0, blended);
    cv::Mat out_rgb;
    cv::cvtColor(blended, out_rgb, cv::COLOR_BGR2RGB);
    image_rgb8 out{image.nx, image.ny, std::vector<uint8_t>(image.rgb.size())};
    for (int y = 0; y < image.ny; ++y) {
        std::memcpy(out.rgb.data() + size_t(y) * image.nx * 3, out_rgb.ptr<uint8_t>(y), size_t(image.nx) * 3);
    }
    return out;
}

} // namespace eagle
