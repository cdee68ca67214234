// eagle/regions.h - the sub-regions EAGLE ranks: superpixels, a grid, or user-supplied labels.
// Thread safety: every function is pure (reads its arguments, returns by value).
//
// A region_set labels every pixel with a region id in [0, n_regions). Regions partition the image: they are
// disjoint and cover it, so a subset of regions is a keep mask (region_mask) and its complement is the
// deletion mask.
#pragma once

#include "eagle/image.h"

#include <cstdint>
#include <string>
#include <vector>

namespace eagle {

// One image of a region_set that covers several images (join_regions): where its pixels and its regions are.
struct region_part {
    int32_t nx = 0;
    int32_t ny = 0;
    int64_t first_pixel = 0;  // its pixels are labels[first_pixel, first_pixel + nx * ny), row-major
    int32_t first_region = 0; // its regions are ids [first_region, first_region + n_regions)
    int32_t n_regions = 0;
};

struct region_set {
    int32_t nx = 0;
    int32_t ny = 0;
    int32_t n_regions = 0;
    std::vector<int32_t> labels;  // nx * ny region ids, row-major
    std::vector<int64_t> area_px; // pixels per region
    std::vector<region_part> parts; // several images (join_regions): one per image, in prompt order, and then
                                    // nx = the pixels of all of them, ny = 1; empty: one image of nx x ny

    // the pixel-area fraction of a subset (selected[i] != 0 -> region i counted)
    double area_fraction(const std::vector<uint8_t> & selected) const;
};

// SLICO superpixels exactly as the EAGLE reference: OpenCV ximgproc's SLICO (eagle's port, label for label the
// same: tests/test-opencv-parity) on the 8-bit BGR image,
// region_size = floor(sqrt(H*W / n_divisions)), ruler 20 (unused by SLICO), n_iterations iterations, no
// connectivity enforcement; empty labels dropped (ids renumbered in order).
// Any size or aspect ratio (1x1, 1xN, Nx1, one colour) gives a partition: the region size is clamped to the
// image's short side, min(floor(sqrt(H*W / n_divisions)), min(H, W)), because OpenCV's SLICO needs at least
// one seed strip per axis. The clamp only acts on images thinner than the reference's region size (e.g.
// 4000x3 at D = 64: 13 -> 3, so fewer, square-ish regions than D asks for); other images are unchanged.
// Throws errc::invalid_argument naming the image size when n_divisions is < 1 or larger than the pixel count,
// or the image is empty or its buffer is not nx*ny*3 bytes.
region_set make_slico_regions(const image_rgb8 & image, int32_t n_divisions = 64, int32_t n_iterations = 20);

// A regular grid of n_cols x n_rows cells (row-major ids); cells differ by at most one pixel in size.
region_set make_grid_regions(int32_t nx, int32_t ny, int32_t n_cols, int32_t n_rows);

// Regions from a PNG of region ids (8- or 16-bit grayscale; e.g. SAM masks or boxes painted by id).
// Ids need not be contiguous: they are renumbered in ascending order. Must have the image's size.
region_set load_region_labels(const std::string & path, int32_t nx, int32_t ny);

// How to cut an image into regions: one struct, so a request can carry it and a record can repeat it.
enum class region_kind {
    slico,  // SLICO superpixels (the reference), n_divisions
    grid,   // n_cols x n_rows cells
    labels, // a PNG of region ids, labels_path
};
region_kind region_kind_from_string(const std::string & name); // "slico" | "grid" | "labels"; throws errc::invalid_argument
const char * region_kind_name(region_kind kind);

struct region_params {
    region_kind kind = region_kind::slico;
    int32_t n_divisions = 64;  // slico: the division number D
    int32_t n_cols = 8;        // grid
    int32_t n_rows = 8;
    std::string labels_path;   // labels
};

// "COLSxROWS" (e.g. "8x8") into n_cols, n_rows; throws errc::invalid_argument naming the text
void parse_grid(const std::string & text, region_params & params);
std::string grid_text(const region_params & params); // "8x8"

// The regions of `image` as params say. Throws errc::invalid_argument (bad values, labels kind without a
// path) or errc::io (an unreadable labels PNG).
region_set make_regions(const image_rgb8 & image, const region_params & params);

// Keep mask of the union of the selected regions (selected.size() == n_regions). For a joined set it is the
// images' keep masks concatenated in order (nx = all their pixels, ny = 1): the mask a request of several images
// is scored with (score_request::more_images); image_pixels cuts one image's out of it.
mask region_mask(const region_set & regions, const std::vector<uint8_t> & selected);

// ---- several images (joined-regions.cpp) ----
// One region_set over several images, for one ranking across all of them: image k's region ids are offset by the
// regions of the images before it, its labels follow theirs (see region_part). One set is returned unchanged.
// Throws errc::invalid_argument for no sets, or more than max_regions regions in all.
region_set join_regions(const std::vector<region_set> & per_image);
size_t n_images(const region_set & regions);                          // parts.size(), or 1
int32_t image_of_region(const region_set & regions, int32_t region);  // which image a region id lies in
// Image k's own region_set, ids kept global (its labels are ids of the joined ranking); n_regions and area_px
// span all ids, so maps and masks index it as the joined set. k = 0 of a one-image set is the set itself.
region_set image_regions(const region_set & regions, size_t k);
// Image k's values of a per-pixel array over a joined set (a map or a mask's keep bytes).
template <typename T>
std::vector<T> image_pixels(const std::vector<T> & joined, const region_set & regions, size_t k) {
    if (regions.parts.empty()) {
        return joined;
    }
    const region_part & p = regions.parts.at(k);
    return std::vector<T>(joined.begin() + p.first_pixel, joined.begin() + p.first_pixel + int64_t(p.nx) * p.ny);
}

// The most regions an explanation can have: labels.png stores region ids in 16 bits. run_explanation rejects
// more (errc::invalid_argument) right after cutting the regions, before any search.
inline constexpr int32_t max_regions = 65535;

// Region ids as a 16-bit PNG (readable back with load_region_labels). Throws errc::unsupported above max_regions.
void save_region_labels(const region_set & regions, const std::string & path);

} // namespace eagle
