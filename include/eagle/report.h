// eagle/report.h - what an explanation leaves on disk (one folder per explanation):
//   explanation.json  the reference's keys and meanings (its evaluation/visualization scripts read it
//                     unchanged) plus eagle's: order, gains, reliance, counts, timings, every parameter
//   regions.npy       the ordered region masks, uint8 [n, H, W, 1] (the reference's layout)
//   labels.png        region ids (16-bit)
//   attribution.png   the attribution map as a viridis overlay blended 0.5 on the image
//   report.html       one self-contained page (see report-html)
#pragma once

#include "eagle/explain.h"
#include "eagle/image.h"
#include "eagle/regions.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eagle {

// Everything about the run that is not in the explanation: to reproduce it and to read it.
struct explanation_context {
    std::vector<std::string> words;        // piece of every answer token
    std::vector<int32_t> answer;           // answer token ids
    std::vector<int32_t> target_indices;   // positions in the answer
    std::vector<int32_t> target_ids;       // scored token at each target
    std::string answer_text;
    nlohmann::ordered_json run;            // versions, model, image, prompt, parameters (free form)
};

nlohmann::ordered_json explanation_to_json(const explanation & ex, const explanation_context & ctx,
                                           const explain_params & params);

// The ordered region masks as a .npy of uint8 [n, H, W, 1].
void write_regions_npy(const explanation & ex, const region_set & regions, const std::string & path);

// Colour a [0,1] map (nx*ny floats) with viridis (or `cool` for hallucination maps) and blend it 0.5 on the
// image, smoothed like the reference (down by 20 and back up).
enum class colormap { viridis, cool };
image_rgb8 render_overlay(const image_rgb8 & image, const std::vector<float> & map, colormap cmap = colormap::viridis);

// writes text to path through a temporary file and a rename, so a killed run never leaves half a file
void write_file_atomic(const std::string & path, const std::string & content);
std::string png_bytes(const image_rgb8 & image);

} // namespace eagle

namespace eagle {

// What report.html shows. The page is one self-contained file: images inlined as data URIs, curves as inline
// SVG, a little JavaScript for the token selector; it loads nothing from the network.
struct html_report_input {
    nlohmann::ordered_json explanation;     // the explanation.json object (explanation_to_json + extras)
    image_rgb8 image;                       // the input image
    image_rgb8 overlay;                     // sentence-level attribution overlay (render_overlay)
    std::vector<image_rgb8> token_overlays; // one per target, in the order of explanation["reliance"]
    image_rgb8 hallucination_overlay;       // empty unless a hallucination diagnosis ran
};

std::string render_html_report(const html_report_input & input);

} // namespace eagle
