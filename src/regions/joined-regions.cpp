// Regions over several images (eagle/regions.h, "several images"): one id space across a prompt's images, so
// one ranking covers all of them, as the authors rank the 5x5 cells of every frame of a video together.
#include "eagle/regions.h"

#include "eagle/error.h"

namespace eagle {

region_set join_regions(const std::vector<region_set> & per_image) {
    if (per_image.empty()) {
        throw error(errc::invalid_argument, "join_regions: no images");
    }
    if (per_image.size() == 1) {
        return per_image.front();
    }
    region_set out;
    int64_t n_regions = 0;
    for (const region_set & r : per_image) {
        n_regions += r.n_regions;
    }
    if (n_regions > max_regions) {
        throw error(errc::invalid_argument, "join_regions: the " + std::to_string(per_image.size()) + " images cut into " +
                                                std::to_string(n_regions) + " regions, more than eagle's limit of " +
                                                std::to_string(max_regions));
    }
    for (const region_set & r : per_image) {
        if (!r.parts.empty()) {
            throw error(errc::invalid_argument, "join_regions: a set is already joined");
        }
        region_part part{r.nx, r.ny, int64_t(out.labels.size()), out.n_regions, r.n_regions};
        for (int32_t label : r.labels) {
            out.labels.push_back(label + part.first_region);
        }
        out.area_px.insert(out.area_px.end(), r.area_px.begin(), r.area_px.end());
        out.n_regions += r.n_regions;
        out.parts.push_back(part);
    }
    out.nx = int32_t(out.labels.size());
    out.ny = 1;
    return out;
}

size_t n_images(const region_set & regions) { return regions.parts.empty() ? 1 : regions.parts.size(); }

int32_t image_of_region(const region_set & regions, int32_t region) {
    if (region < 0 || region >= regions.n_regions) {
        throw error(errc::invalid_argument, "image_of_region: region " + std::to_string(region) + " is not one of the " +
                                                std::to_string(regions.n_regions) + " regions");
    }
    for (size_t k = 0; k < regions.parts.size(); ++k) {
        const region_part & p = regions.parts[k];
        if (region < p.first_region + p.n_regions) {
            return int32_t(k);
        }
    }
    return 0;
}

region_set image_regions(const region_set & regions, size_t k) {
    if (k >= n_images(regions)) {
        throw error(errc::invalid_argument, "image_regions: image " + std::to_string(k) + " of " +
                                                std::to_string(n_images(regions)));
    }
    if (regions.parts.empty()) {
        return regions;
    }
    const region_part & p = regions.parts[k];
    region_set out;
    out.nx = p.nx;
    out.ny = p.ny;
    out.n_regions = regions.n_regions;
    out.labels = image_pixels(regions.labels, regions, k);
    out.area_px = regions.area_px;
    return out;
}

} // namespace eagle
