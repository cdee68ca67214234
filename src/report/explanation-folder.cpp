// An explanation folder: writing one from the record, and finding and reading folders again (`eagle eval`,
// a resumed dataset run), the reference's json/ + npy/ layout included.
#include "eagle/report.h"

#include "eagle/error.h"
#include "eagle/file.h"
#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

namespace eagle {

namespace {

namespace fs = std::filesystem;

bool is_file(const fs::path & p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path & p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// a token piece as a file name: its trimmed text, anything but letters and digits as '_'
std::string slug(const std::string & piece) {
    std::string s;
    for (unsigned char c : trim_space(piece)) {
        s.push_back(std::isalnum(c) ? char(c) : '_');
    }
    return s.empty() ? "token" : s;
}

explanation_files eagle_folder(const fs::path & dir) {
    return {dir.string(), (dir / "explanation.json").string(), (dir / "regions.npy").string(), (dir / "labels.png").string()};
}

std::vector<fs::path> sorted_entries(const fs::path & dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        out.push_back(it->path());
    }
    if (ec) {
        throw error(errc::io, "cannot list '" + dir.string() + "': " + ec.message());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Per pixel, the ranking position of its region (-1: a region the ranking does not hold), from region ids and
// the ranking `order`. Throws errc::io naming `source` for an id outside 16-bit labels.
std::vector<int32_t> ranks_from_order(const std::vector<int32_t> & labels, const std::vector<int32_t> & order,
                                      const std::string & source) {
    std::vector<int32_t> position;
    for (size_t k = 0; k < order.size(); ++k) {
        const int32_t id = order[k];
        if (id < 0 || id > 65535) {
            throw error(errc::io, source + ": 'order' has region id " + std::to_string(id));
        }
        if (size_t(id) >= position.size()) {
            position.resize(size_t(id) + 1, -1);
        }
        position[size_t(id)] = int32_t(k);
    }
    std::vector<int32_t> rank(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
        rank[i] = size_t(labels[i]) < position.size() ? position[size_t(labels[i])] : -1;
    }
    return rank;
}

} // namespace

namespace {

// the ranked region masks, [n, H, W] as 0/1 bytes in ranking order
std::vector<uint8_t> ranked_masks(const explanation & ex, const region_set & regions) {
    const size_t n = ex.order.size(), n_px = regions.labels.size();
    std::vector<uint8_t> masks(n * n_px);
    for (size_t k = 0; k < n; ++k) {
        uint8_t * dst = masks.data() + k * n_px;
        for (size_t i = 0; i < n_px; ++i) {
            dst[i] = regions.labels[i] == ex.order[k] ? 1 : 0;
        }
    }
    return masks;
}

} // namespace

void write_regions_npy(const explanation & ex, const region_set & regions, const std::string & path) {
    write_file_atomic(path, npy_bytes_u8({int64_t(ex.order.size()), regions.ny, regions.nx, 1}, ranked_masks(ex, regions)));
}

std::string reference_json_path(const std::string & dir, const std::string & name) {
    return (fs::path(dir) / "json" / (name + ".json")).string();
}

void write_reference_layout(const std::string & dir, const std::string & name, const explanation_record & rec) {
    std::error_code ec;
    fs::create_directories(fs::path(dir) / "json", ec);
    fs::create_directories(fs::path(dir) / "npy", ec);
    if (ec || !is_dir(fs::path(dir) / "json") || !is_dir(fs::path(dir) / "npy")) {
        throw error(errc::io, "cannot create the folders json/ and npy/ in '" + dir + "'");
    }
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        throw error(errc::invalid_argument, "write_reference_layout: '" + name + "' is not a file name");
    }
    const region_set & regions = rec.regions;
    if (n_images(regions) > 1) {
        throw error(errc::unsupported, "write_reference_layout: the reference's layout holds one image per sample, this "
                                       "explanation has " + std::to_string(n_images(regions)));
    }
    write_file_atomic((fs::path(dir) / "npy" / (name + ".npy")).string(),
                      npy_bytes_i64({int64_t(rec.result.order.size()), regions.ny, regions.nx, 1}, ranked_masks(rec.result, regions)));
    write_file_atomic(reference_json_path(dir, name), reference_json_text(rec)); // last: its presence means done
}

void write_explanation_folder(const std::string & dir, const explanation_record & rec) {
    std::error_code ec;
    fs::create_directories(fs::path(dir) / "tokens", ec);
    if (ec || !is_dir(fs::path(dir) / "tokens")) {
        throw error(errc::io, "cannot create output folder '" + dir + "'");
    }
    const explanation_images images = render_explanation_images(rec);
    // image k >= 1 of several: the same files with "-k" before the extension (eagle/report.h)
    auto write_image_files = [&](size_t k, const image_rgb8 & overlay, const std::vector<image_rgb8> & token_overlays) {
        std::string suffix; // built in steps: GCC 12 warns (-Wrestrict, a false positive) on "-" + to_string
        if (k > 0) {
            suffix.append("-").append(std::to_string(k));
        }
        for (size_t t = 0; t < token_overlays.size(); ++t) {
            const int32_t index = rec.target_indices[t];
            write_file_atomic(dir + "/tokens/" + std::to_string(index) + "-" + slug(rec.words[size_t(index)]) + suffix + ".png",
                              png_bytes(token_overlays[t]));
        }
        write_file_atomic(dir + "/attribution" + suffix + ".png", png_bytes(overlay));
        const region_set regions = image_regions(rec.regions, k);
        write_regions_npy(rec.result, regions, dir + "/regions" + suffix + ".npy");
        save_region_labels(regions, dir + "/labels" + suffix + ".png");
    };
    write_image_files(0, images.overlay, images.token_overlays);
    for (size_t k = 0; k < images.more.size(); ++k) {
        write_image_files(k + 1, images.more[k].overlay, images.more[k].token_overlays);
    }
    if (rec.hallucination) {
        write_file_atomic(dir + "/hallucination.png", png_bytes(images.hallucination_overlay));
    }
    write_file_atomic(dir + "/report.html", render_html_report(rec, images));
    write_file_atomic(dir + "/explanation.json", explanation_json_text(rec)); // last: its presence means done
}

std::vector<explanation_files> discover_explanations(const std::string & arg, bool & is_single) {
    const fs::path dir(arg);
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        throw error(errc::io, "'" + arg + "' does not exist");
    }
    if (!is_dir(dir)) {
        throw error(errc::io, "'" + arg + "' is not a folder (give the folder that holds explanation.json)");
    }
    is_single = is_file(dir / "explanation.json");
    if (is_single) {
        return {eagle_folder(dir)};
    }
    std::vector<explanation_files> out;
    if (is_dir(dir / "json")) {
        for (const fs::path & p : sorted_entries(dir / "json")) {
            if (p.extension() == ".json" && is_file(p)) {
                out.push_back({p.string(), p.string(), (dir / "npy" / (p.stem().string() + ".npy")).string(), ""});
            }
        }
    }
    for (const fs::path & p : sorted_entries(dir)) {
        if (is_dir(p) && is_file(p / "explanation.json")) {
            out.push_back(eagle_folder(p));
        }
    }
    if (out.empty()) {
        throw error(errc::io, "'" + arg + "' holds no explanation.json, no subfolder with one, and no json/*.json");
    }
    return out;
}

// The saliency map the point game reads, at image resolution. eagle's map (region_attribution, unless
// --map add-value or the file has none) is placed by the region ids of labels.png, or else of regions.npy and
// `order`; the reference's float16 add_value map ranks pixels by regions.npy (what its script reads), or else
// by labels.png and `order`. A float npy (the reference's baselines) is its own dense map.
saliency_map load_saliency_map(const eval_sample & s, const explanation_files & f, map_source source) {
    const bool is_attribution = source == map_source::attribution && !s.region_attribution.empty();
    const bool has_labels = !f.labels_path.empty() && is_file(f.labels_path);
    if (is_attribution && has_labels && s.image_size) {
        // eagle's map needs region ids, which labels.png holds for every pixel (even when a search was cut short)
        const int32_t nx = (*s.image_size)[0], ny = (*s.image_size)[1];
        try {
            return region_value_map(load_region_labels(f.labels_path, nx, ny).labels, nx, ny, s.region_attribution);
        } catch (const error & e) {
            throw error(errc::io, f.json_path + ": 'region_attribution' does not fit " + f.labels_path + " (" + e.what() + ")");
        }
    }
    int32_t nx = 0, ny = 0;
    std::vector<int32_t> rank, labels;
    if (is_file(f.npy_path)) {
        const npy_array npy = parse_npy(read_file(f.npy_path), f.npy_path);
        const auto & shape = npy.shape;
        if (npy.kind == 'f' && (shape.size() == 2 || (shape.size() == 3 && shape[2] == 1))) {
            // a dense map (the reference's baselines): normalised, resized to the image when its size is known
            saliency_map dense{int32_t(shape[1]), int32_t(shape[0]), std::vector<double>(size_t(shape[0] * shape[1]))};
            for (size_t i = 0; i < dense.values.size(); ++i) {
                dense.values[i] = npy.at(i);
            }
            const std::array<int32_t, 2> size = s.image_size.value_or(std::array<int32_t, 2>{dense.nx, dense.ny});
            return normalize_dense_map(dense, size[0], size[1], npy.item_size == 4);
        }
        rank = ranks_from_masks(npy, f.npy_path, nx, ny);
    } else if (has_labels) {
        if (!s.image_size) {
            throw error(errc::io, f.json_path + ": 'run.image_size' is missing (needed to read " + f.labels_path + ")");
        }
        nx = (*s.image_size)[0];
        ny = (*s.image_size)[1];
        labels = load_region_labels(f.labels_path, nx, ny).labels;
        if (s.order.empty()) {
            throw error(errc::io, f.json_path + ": 'order' is missing (needed to rank the regions of " + f.labels_path + ")");
        }
        rank = ranks_from_order(labels, s.order, f.json_path);
    } else {
        throw error(errc::io, f.json_path + ": has 'location' or 'segmentation' but no " + f.npy_path +
                                  (f.labels_path.empty() ? "" : " or " + f.labels_path) + " to build the map from");
    }

    if (is_attribution) {
        if (labels.empty()) {
            if (s.order.empty()) {
                throw error(errc::io, f.json_path + ": 'order' is missing (needed to place 'region_attribution' on " +
                                          f.npy_path + ")");
            }
            labels.resize(rank.size());
            for (size_t i = 0; i < rank.size(); ++i) {
                if (rank[i] < 0 || size_t(rank[i]) >= s.order.size()) {
                    throw error(errc::io, f.npy_path + ": pixel " + std::to_string(i) + " is in no ranked region");
                }
                labels[i] = s.order[size_t(rank[i])];
            }
        }
        try {
            return region_value_map(labels, nx, ny, s.region_attribution);
        } catch (const error & e) {
            throw error(errc::io, f.json_path + ": 'region_attribution' does not fit the regions (" + e.what() + ")");
        }
    }
    const std::pair<const char *, const std::vector<double> *> needed[] = {
        {"smdl_score", &s.smdl_score}, {"org_score", &s.org_score}, {"baseline_score", &s.baseline_score}};
    for (const auto & [key, values] : needed) {
        if (values->empty()) {
            throw error(errc::io, f.json_path + ": '" + key + "' is missing (needed for the add_value map)");
        }
    }
    try {
        return add_value_map(rank, nx, ny, s.smdl_score, s.org_score, s.baseline_score);
    } catch (const error & e) {
        throw error(errc::io, f.json_path + ": " + e.what());
    }
}

sample_metrics evaluate_explanation_files(const explanation_files & f, map_source source, double sensitivity) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file(f.json_path));
    } catch (const nlohmann::json::exception & e) {
        throw error(errc::io, f.json_path + ": malformed JSON (" + e.what() + ")");
    }
    eval_sample s = eval_sample_from_json(j, f.json_path);
    std::optional<saliency_map> map;
    if (s.needs_map()) {
        map = load_saliency_map(s, f, source);
    }
    try {
        sample_metrics m = evaluate_sample(s, map ? &*map : nullptr, sensitivity);
        m.source = f.name;
        return m;
    } catch (const error & e) {
        throw error(errc::io, f.json_path + ": " + e.what());
    }
}

sample_metrics evaluate_record(const explanation_record & rec, map_source source, double sensitivity) {
    const std::string name = rec.request.image_path.empty() ? "explanation" : rec.request.image_path;
    const eval_sample s = to_eval_sample(rec, name);
    std::optional<saliency_map> map;
    if (s.needs_map()) {
        const region_set & regions = rec.regions;
        if (source == map_source::attribution && !s.region_attribution.empty()) {
            map = region_value_map(regions.labels, regions.nx, regions.ny, s.region_attribution);
        } else {
            const std::vector<int32_t> rank = ranks_from_order(regions.labels, s.order, name);
            map = add_value_map(rank, regions.nx, regions.ny, s.smdl_score, s.org_score, s.baseline_score);
        }
    }
    return evaluate_sample(s, map ? &*map : nullptr, sensitivity);
}

} // namespace eagle
