// eagle/report.h - what an explanation leaves on disk, one folder per explanation, written from the typed record
// (eagle/record.h):
//   explanation.json  the reference's keys and meanings plus eagle's: order, gains, reliance, counts, timings,
//                     every parameter (src/report/explanation-json.cpp is the only file that spells the keys)
//   regions.npy       the ordered region masks, uint8 [n, H, W, 1] (the reference's per-image layout)
//   labels.png        region ids (16-bit)
//   attribution.png   the attribution map as a viridis overlay blended 0.5 on the image
//   tokens/I-WORD.png each target token's share of the gains along the sentence's ranking
//   hallucination.png with a hallucination diagnosis: the regions removed first
//   several images (explanation_request::more_images): the files above are the first image's, and image k >= 1
//   of the prompt gets attribution-k.png, labels-k.png, regions-k.npy and tokens/I-WORD-k.png beside them
//   (region ids and the ranking are global: labels-k.png holds ids of the one ranking)
//   report.html       one self-contained page
// explanation.json is written last and atomically: its presence means the folder is complete.
// Also here: finding explanation folders again (and the reference's json/ + npy/ layout) and the saliency map
// `eagle eval` reads from them.
// Thread safety: pure functions, apart from the files they write (one writer per folder).
#pragma once

#include "eagle/explain.h"
#include "eagle/image.h"
#include "eagle/metrics.h"
#include "eagle/npy.h"
#include "eagle/record.h"
#include "eagle/regions.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eagle {

// ---- explanation.json (explanation-json.cpp) ----
nlohmann::ordered_json to_json(const explanation_record & record);
std::string explanation_json_text(const explanation_record & record); // as written to explanation.json
// As written to the reference's json/<name>.json: the same object, plus the keys only its scripts spell
// (select_category, from a dataset's category, for visualize_ours_w_object.py).
std::string reference_json_text(const explanation_record & record);
// The metrics' input, in memory (no JSON round trip for a result this process holds).
eval_sample to_eval_sample(const explanation_record & record, const std::string & source);
// Reads the reference's keys (and eagle's optional ones) from one explanation.json object.
// Throws errc::io with "<source>: <key> ..." for a missing or ill-typed key, or curves of unequal lengths.
eval_sample eval_sample_from_json(const nlohmann::json & j, const std::string & source);

// ---- images ----
// Colour a [0,1] map (nx*ny floats) with viridis (or `cool` for hallucination maps) and blend it 0.5 on the
// image, smoothed like the reference (down by 20 and back up).
enum class colormap { viridis, cool };
image_rgb8 render_overlay(const image_rgb8 & image, const std::vector<float> & map, colormap cmap = colormap::viridis);

struct explanation_images {
    image_rgb8 image;                       // the input image (several images: the first)
    image_rgb8 overlay;                     // the sentence-level attribution overlay
    std::vector<image_rgb8> token_overlays; // one per target (token_attribution_map), in target order
    image_rgb8 hallucination_overlay;       // empty unless the record has a hallucination diagnosis
    // several images: the prompt's further images in order, each with the one ranking's maps cut to its pixels
    struct more_image {
        image_rgb8 image;
        image_rgb8 overlay;
        std::vector<image_rgb8> token_overlays;
    };
    std::vector<more_image> more;
};
explanation_images render_explanation_images(const explanation_record & record);

// report.html from the record. The page is one self-contained file: images inlined as data URIs, curves as inline
// SVG, a little JavaScript for the token selector; it loads nothing from the network.
std::string render_html_report(const explanation_record & record, const explanation_images & images);

// ---- the folder ----
// The ordered region masks as a .npy of uint8 [n, H, W, 1].
void write_regions_npy(const explanation & ex, const region_set & regions, const std::string & path);
// Writes every file of the folder (creating it), explanation.json last. Throws errc::io naming the path.
void write_explanation_folder(const std::string & dir, const explanation_record & record);

// The reference's own layout, the one its evaluation and visualisation scripts read (evals/*.py,
// visualization/*.py): dir/npy/<name>.npy, the ranked region masks as int64 [n, H, W, 1] (np.save of its
// masks), then dir/json/<name>.json (reference_json_text), last. Their scripts find the image as
// <Datasets>/<name>.jpg, and eval_point_game.py reads the npy as region masks only when its path contains
// "interpretation_results" (else as a dense map): put dir below such a folder. Throws errc::io naming the path.
void write_reference_layout(const std::string & dir, const std::string & name, const explanation_record & record);
std::string reference_json_path(const std::string & dir, const std::string & name); // dir/json/<name>.json

// Where one explanation's files are: an eagle folder, or one sample of the reference's DIR/json + DIR/npy.
struct explanation_files {
    std::string name;        // shown in per-sample rows and messages
    std::string json_path;
    std::string npy_path;    // regions.npy (eagle) or npy/<name>.npy (the reference's layout); may not exist
    std::string labels_path; // labels.png (eagle only); may not exist
};
// The explanations under dir: dir itself (is_single = true), its subfolders with explanation.json, and the
// reference's dir/json/*.json. Throws errc::io for a missing folder or one that holds none.
std::vector<explanation_files> discover_explanations(const std::string & dir, bool & is_single);

// Which map the point game reads: eagle's region_attribution (float32 add_value; the reference's float16
// add_value where a file has none), or always the reference's float16 add_value.
enum class map_source { attribution, add_value };
saliency_map load_saliency_map(const eval_sample & sample, const explanation_files & files, map_source source);

// One explanation's metrics from the record this process holds (the same numbers as from its folder).
sample_metrics evaluate_record(const explanation_record & record, map_source source, double sensitivity);

// One explanation's metrics from its files (the map loaded when the sample has localisation ground truth).
// Throws errc::io naming the file.
sample_metrics evaluate_explanation_files(const explanation_files & files, map_source source, double sensitivity);

} // namespace eagle
