// eagle/shapes.h - ShapesWorld: a synthetic world of coloured shapes with exact ground truth, and the small
// language the ShapesWorld model (models/shapesworld-*.gguf) was trained on.
//
//   eagle::shapes_config cfg;                                  // 128x128, the standard (biased) distribution
//   eagle::shapes_scene scene = eagle::make_shapes_scene(cfg, seed, index);
//   scene.image, scene.objects[i].box / .mask, scene.caption, scene.qa
//   eagle::write_shapes_dataset("out", n, seed, cfg);          // PNGs + COCO-style annotations.json
//
// The world (docs/shapesworld.md has the long form):
//   * 1-4 objects, shapes circle / square / triangle, colours red / green / blue / yellow, sizes 16-30% of the
//     image side, on a flat or textured low-saturation background; objects never overlap (>= 2 px apart) and
//     their box centres are >= 10% of the side apart horizontally, so "left to right" is never ambiguous.
//   * a scene is a pure function of (config, seed, index): the same triple gives the same pixels on any
//     platform (own integer RNG helpers on std::mt19937_64, OpenCV's integer rasterizer, no antialiasing).
//
// The language (exact strings; every word is one token of the model's vocabulary):
//   caption  "describe the image"           -> "a red circle ." / "a red circle and a blue square ." /
//                                              "a red circle , a blue square and a green triangle ."
//            objects left to right by box centre.
//   yesno    "is there a green square ?"    -> "yes" / "no"
//   color    "what color is the circle ?"   -> "red"     (asked only when exactly one circle is present)
//   shape    "what shape is the red object ?" -> "circle" (asked only when exactly one red object is present)
//
// Deliberate biases (the rates are the constants below, exact by construction):
//   * co-occurrence: in the standard distribution a scene that contains a yellow triangle contains a green
//     square with probability k_shapes_cooccurrence_rate (0.98), and green squares appear only there
//     (P(yellow triangle | green square) = 1); the probe split breaks it (always a yellow triangle, never a
//     green square) to measure the hallucination the bias teaches.
//   * language prior: every object phrase is "a <color> <shape>", every caption ends with " .", the list
//     separators are fixed (" , " then " and "), and yes/no questions are asked in pairs (one "yes", one
//     "no") so the answer prior is exactly 50%; those tokens are predictable from the text alone.
//
// Ownership: everything is returned by value; no global state. Thread safety: all functions are pure
// (write_shapes_dataset writes only below its folder).
#pragma once

#include "eagle/image.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace eagle {

enum class shape_kind { circle, square, triangle };
enum class color_kind { red, green, blue, yellow };

inline constexpr std::array<shape_kind, 3> k_shape_kinds = {shape_kind::circle, shape_kind::square, shape_kind::triangle};
inline constexpr std::array<color_kind, 4> k_color_kinds = {color_kind::red, color_kind::green, color_kind::blue,
                                                            color_kind::yellow};

const char * shape_name(shape_kind shape);
const char * color_name(color_kind color);

// P(a green square is present | a yellow triangle is present) in the standard distribution. The converse
// is 1: the standard distribution draws green squares only as yellow triangles' companions.
inline constexpr double k_shapes_cooccurrence_rate = 0.98;
// the smallest image side a scene fits in (4 objects of the smallest size, with their gaps)
inline constexpr int32_t k_shapes_min_size = 48;
inline constexpr int32_t k_shapes_max_size = 4096;
inline constexpr int32_t k_shapes_max_objects = 4;

// Prompts: the exact text of the caption prompt, and the templates of the others.
inline constexpr const char * k_shapes_caption_prompt = "describe the image";
std::string shapes_yesno_question(color_kind color, shape_kind shape); // "is there a red circle ?"
std::string shapes_color_question(shape_kind shape);                   // "what color is the circle ?"
std::string shapes_shape_question(color_kind color);                   // "what shape is the red object ?"

// Every word of the language (prompts and answers), each a single token of the model: what a model's
// vocabulary needs. Sorted, no duplicates.
std::vector<std::string> shapes_words();

enum class shapes_split {
    standard, // the training / evaluation distribution, with the co-occurrence bias
    probe,    // the bias probe: a yellow triangle and never a green square
};

struct shapes_config {
    int32_t size = 128;           // image side in pixels (square images)
    shapes_split split = shapes_split::standard;
    double cooccurrence_rate = k_shapes_cooccurrence_rate; // standard split only; in [0, 1]
};

struct box_xyxy {
    int32_t x0 = 0, y0 = 0; // first pixel (inclusive)
    int32_t x1 = 0, y1 = 0; // one past the last pixel (exclusive), so width = x1 - x0
};

struct shapes_object {
    shape_kind shape = shape_kind::circle;
    color_kind color = color_kind::red;
    box_xyxy box;            // tight box of the mask
    mask pixels;             // image-sized; nonzero = the object's pixels (exactly the painted ones)
    int64_t area = 0;        // number of mask pixels
    std::array<uint8_t, 3> rgb{}; // the paint colour (jittered around the colour's prototype)
};

struct shapes_qa {
    std::string task;     // "yesno", "color", "shape", or "probe" (the bias question of the probe split)
    std::string question; // the prompt
    std::string answer;   // the expected answer
};

struct shapes_scene {
    image_rgb8 image;
    std::vector<shapes_object> objects; // left to right (box centre x), the caption's order
    std::string background;             // "flat", "noise", "stripes", "checker", "gradient"
    std::string caption;                // expected answer to k_shapes_caption_prompt
    std::vector<shapes_qa> qa;          // the other tasks (the caption is not repeated here)
};

// Throws error(errc::invalid_argument) for a size outside [k_shapes_min_size, k_shapes_max_size] or a rate
// outside [0, 1].
void validate_shapes_config(const shapes_config & config);

// Scene `index` of the stream for `seed`.
shapes_scene make_shapes_scene(const shapes_config & config, uint64_t seed, int64_t index);

// The caption of objects already in left-to-right order.
std::string shapes_caption(const std::vector<shapes_object> & objects);

// Writes DIR/000000.png ... and DIR/annotations.json (COCO-style: images, annotations with bbox [x,y,w,h],
// bbox_xyxy and an uncompressed-RLE segmentation, categories with name/shape/color, plus a top-level
// "prompts" object and "biases"). Creates DIR. Throws error(errc::invalid_argument) for n <= 0 or a bad
// config, error(errc::io) naming the path when DIR or a file cannot be written.
void write_shapes_dataset(const std::string & dir, int64_t n, uint64_t seed, const shapes_config & config);

} // namespace eagle
