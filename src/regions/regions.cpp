#include "eagle/regions.h"

#include "eagle/error.h"
#include "eagle/file.h"
#include "image/decode.h"
#include "image/png-codec.h"
#include "slico.h"

#include <opencv2/imgcodecs.hpp> // the IMREAD_* flag values only
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

namespace eagle {

namespace {

// renumber ids in ascending order, dropping ids no pixel carries
region_set compact(int32_t nx, int32_t ny, std::vector<int32_t> labels) {
    std::map<int32_t, int32_t> remap;
    for (int32_t id : labels) {
        remap.emplace(id, 0);
    }
    int32_t next = 0;
    for (auto & [id, new_id] : remap) {
        new_id = next++;
    }
    region_set out;
    out.nx = nx;
    out.ny = ny;
    out.n_regions = next;
    out.area_px.assign(next, 0);
    for (int32_t & id : labels) {
        id = remap[id];
        ++out.area_px[id];
    }
    out.labels = std::move(labels);
    return out;
}

} // namespace

double region_set::area_fraction(const std::vector<uint8_t> & selected) const {
    int64_t n = 0;
    for (int32_t i = 0; i < n_regions; ++i) {
        if (selected[i]) {
            n += area_px[i];
        }
    }
    return double(n) / (double(nx) * ny);
}

region_set make_slico_regions(const image_rgb8 & image, int32_t n_divisions, int32_t n_iterations) {
    const int64_t n_px = int64_t(image.nx) * image.ny;
    if (image.empty() || image.rgb.size() != size_t(n_px) * 3) {
        throw error(errc::invalid_argument, "make_slico_regions: a " + std::to_string(image.nx) + "x" + std::to_string(image.ny) +
                                                " image with " + std::to_string(image.rgb.size()) + " bytes (expected nx*ny*3 > 0)");
    }
    if (n_divisions < 1 || n_divisions > n_px) {
        throw error(errc::invalid_argument, "division number " + std::to_string(n_divisions) + " must lie in 1.." +
                                                std::to_string(n_px) + " (the pixel count of the " + std::to_string(image.nx) +
                                                "x" + std::to_string(image.ny) + " image)");
    }
    if (n_iterations < 1) {
        throw error(errc::invalid_argument, "SLICO iterations must be positive, got " + std::to_string(n_iterations));
    }
    // the reference runs SLICO on cv2.imread's BGR bytes
    cv::Mat rgb(image.ny, image.nx, CV_8UC3, const_cast<uint8_t *>(image.rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    // the reference's size, clamped to the short side: OpenCV's SLICO lays out round(side / size) seed strips
    // per axis and crashes when one axis gets none (a 4000x3 image at D = 64 asks for 13-pixel regions). On
    // images whose short side is at least the reference's size (every normal image) nothing changes.
    const int region_size = std::min(int(std::sqrt(double(n_px) / n_divisions)), std::min(image.nx, image.ny));
    std::vector<int32_t> ids = detail::slico_labels(bgr.ptr<uint8_t>(0), image.nx, image.ny, region_size, n_iterations);
    return compact(image.nx, image.ny, std::move(ids));
}

region_set make_grid_regions(int32_t nx, int32_t ny, int32_t n_cols, int32_t n_rows) {
    if (n_cols < 1 || n_rows < 1 || n_cols > nx || n_rows > ny) {
        throw error(errc::invalid_argument, "grid of " + std::to_string(n_cols) + "x" + std::to_string(n_rows) +
                                                " cells does not fit a " + std::to_string(nx) + "x" + std::to_string(ny) + " image");
    }
    std::vector<int32_t> ids(size_t(nx) * ny);
    for (int32_t y = 0; y < ny; ++y) {
        for (int32_t x = 0; x < nx; ++x) {
            ids[size_t(y) * nx + x] = (int32_t(int64_t(y) * n_rows / ny)) * n_cols + int32_t(int64_t(x) * n_cols / nx);
        }
    }
    return compact(nx, ny, std::move(ids));
}

region_set load_region_labels(const std::string & path, int32_t nx, int32_t ny) {
    const cv::Mat img = detail::decode_image_file(path, cv::IMREAD_ANYDEPTH | cv::IMREAD_GRAYSCALE, "load_region_labels");
    if (img.cols != nx || img.rows != ny) {
        throw error(errc::invalid_argument, "region labels '" + path + "' are " + std::to_string(img.cols) + "x" +
                                                std::to_string(img.rows) + " but the image is " + std::to_string(nx) + "x" +
                                                std::to_string(ny));
    }
    cv::Mat ids32;
    img.convertTo(ids32, CV_32S);
    std::vector<int32_t> ids(size_t(nx) * ny);
    for (int y = 0; y < ny; ++y) {
        const int32_t * row = ids32.ptr<int32_t>(y);
        std::copy(row, row + nx, ids.begin() + size_t(y) * nx);
    }
    return compact(nx, ny, std::move(ids));
}

mask region_mask(const region_set & regions, const std::vector<uint8_t> & selected) {
    if (int32_t(selected.size()) != regions.n_regions) {
        throw error(errc::invalid_argument, "region_mask: " + std::to_string(selected.size()) + " flags for " +
                                                std::to_string(regions.n_regions) + " regions");
    }
    mask out{regions.nx, regions.ny, std::vector<uint8_t>(regions.labels.size())};
    for (size_t i = 0; i < regions.labels.size(); ++i) {
        out.keep[i] = selected[regions.labels[i]] ? 1 : 0;
    }
    return out;
}

void save_region_labels(const region_set & regions, const std::string & path) {
    if (regions.n_regions > max_regions) {
        throw error(errc::unsupported, "save_region_labels: " + std::to_string(regions.n_regions) + " regions exceed 16 bits");
    }
    cv::Mat img(regions.ny, regions.nx, CV_16U);
    for (int y = 0; y < regions.ny; ++y) {
        uint16_t * row = img.ptr<uint16_t>(y);
        for (int x = 0; x < regions.nx; ++x) {
            row[x] = uint16_t(regions.labels[size_t(y) * regions.nx + x]);
        }
    }
    write_file_atomic(path, [&] {
        const std::vector<uint8_t> png = detail::encode_png(img, "save_region_labels");
        return std::string(png.begin(), png.end());
    }());
}

region_kind region_kind_from_string(const std::string & name) {
    if (name == "slico") return region_kind::slico;
    if (name == "grid") return region_kind::grid;
    if (name == "labels") return region_kind::labels;
    throw error(errc::invalid_argument, "unknown segmenter '" + name + "' (expected slico, grid or labels)");
}

const char * region_kind_name(region_kind kind) {
    switch (kind) {
        case region_kind::slico:  return "slico";
        case region_kind::grid:   return "grid";
        case region_kind::labels: return "labels";
    }
    return "slico";
}

void parse_grid(const std::string & text, region_params & params) {
    int cols = 0, rows = 0;
    char x = 0, rest = 0;
    if (std::sscanf(text.c_str(), "%d%c%d%c", &cols, &x, &rows, &rest) != 3 || x != 'x') {
        throw error(errc::invalid_argument, "--grid '" + text + "' is not COLSxROWS (e.g. 8x8)");
    }
    params.n_cols = cols;
    params.n_rows = rows;
}

std::string grid_text(const region_params & params) {
    return std::to_string(params.n_cols) + "x" + std::to_string(params.n_rows);
}

region_set make_regions(const image_rgb8 & image, const region_params & params) {
    switch (params.kind) {
        case region_kind::slico:
            return make_slico_regions(image, params.n_divisions);
        case region_kind::grid:
            return make_grid_regions(image.nx, image.ny, params.n_cols, params.n_rows);
        case region_kind::labels:
            if (params.labels_path.empty()) {
                throw error(errc::invalid_argument, "--segmenter labels needs --labels PNG");
            }
            return load_region_labels(params.labels_path, image.nx, image.ny);
    }
    throw error(errc::invalid_argument, "make_regions: unknown region kind");
}

} // namespace eagle
