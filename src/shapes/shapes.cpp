// ShapesWorld scene generator (see include/eagle/shapes.h for the world, the language and the biases).
#include "eagle/shapes.h"

#include "eagle/error.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace eagle {

namespace {

// Portable randomness: std::mt19937_64's sequence is fixed by the standard, its distributions are not, so
// every draw goes through these helpers.
class rng {
public:
    explicit rng(uint64_t seed) : gen_(seed) {}
    uint64_t next() { return gen_(); }
    // uniform in [lo, hi] (inclusive); the modulo bias is < 2^-40 for the small ranges used here
    int32_t uniform_int(int32_t lo, int32_t hi) { return lo + int32_t(next() % uint64_t(int64_t(hi) - lo + 1)); }
    double uniform01() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

private:
    std::mt19937_64 gen_;
};

// splitmix64 finalizer: decorrelates the per-scene seeds of neighbouring indices
uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct category {
    shape_kind shape;
    color_kind color;
    bool operator==(const category &) const = default;
};

constexpr category k_green_square{shape_kind::square, color_kind::green};
constexpr category k_yellow_triangle{shape_kind::triangle, color_kind::yellow};

int category_index(category c) { return int(c.color) * int(k_shape_kinds.size()) + int(c.shape); }

category category_at(int i) {
    const int n_shapes = int(k_shape_kinds.size());
    return {k_shape_kinds[size_t(i % n_shapes)], k_color_kinds[size_t(i / n_shapes)]};
}

constexpr int k_n_categories = int(k_shape_kinds.size() * k_color_kinds.size());

category random_category(rng & r) { return category_at(r.uniform_int(0, k_n_categories - 1)); }

category random_category_except(rng & r, category excluded) {
    for (;;) {
        const category c = random_category(r);
        if (!(c == excluded)) {
            return c;
        }
    }
}

// Prototype paint colours; each object is jittered by up to +-18 per channel. Backgrounds are low-saturation
// greys, so every object colour stays far from the background and from the other three colours.
std::array<uint8_t, 3> paint_color(color_kind color, rng & r) {
    std::array<int, 3> base{};
    switch (color) {
        case color_kind::red:    base = {210, 35, 35};  break;
        case color_kind::green:  base = {35, 160, 55};  break;
        case color_kind::blue:   base = {40, 70, 215};  break;
        case color_kind::yellow: base = {225, 200, 30}; break;
    }
    std::array<uint8_t, 3> out{};
    for (size_t c = 0; c < 3; ++c) {
        out[c] = uint8_t(std::clamp(base[c] + r.uniform_int(-18, 18), 0, 255));
    }
    return out;
}

std::string paint_background(image_rgb8 & image, rng & r) {
    static const char * k_kinds[] = {"flat", "noise", "stripes", "checker", "gradient"};
    const int kind = r.uniform_int(0, 4);
    const int gray = r.uniform_int(70, 190);
    std::array<int, 3> base{};
    for (int & b : base) {
        b = gray + r.uniform_int(-15, 15);
    }
    const int n = image.nx;
    const int period = r.uniform_int(6, 16);
    const int direction = r.uniform_int(0, 2); // stripes / gradient: horizontal, vertical, diagonal
    const int amplitude = r.uniform_int(8, 18);
    for (int y = 0; y < n; ++y) {
        for (int x = 0; x < n; ++x) {
            int delta = 0;
            const int along = direction == 0 ? x : direction == 1 ? y : x + y;
            switch (kind) {
                case 0: break;
                case 1: delta = r.uniform_int(-amplitude, amplitude); break;
                case 2: delta = (along / (period / 2)) % 2 == 0 ? amplitude : -amplitude; break;
                case 3: delta = ((x / period) + (y / period)) % 2 == 0 ? amplitude : -amplitude; break;
                case 4: delta = int(std::lround(2.0 * amplitude * (double(along) / (direction == 2 ? 2 * n : n) - 0.5))); break;
                default: break;
            }
            uint8_t * px = image.rgb.data() + (size_t(y) * n + x) * 3;
            for (size_t c = 0; c < 3; ++c) {
                px[c] = uint8_t(std::clamp(base[c] + delta, 0, 255));
            }
        }
    }
    return k_kinds[kind];
}

// The categories of a scene, with the co-occurrence bias applied (standard) or inverted (probe).
std::vector<category> draw_categories(const shapes_config & config, rng & r) {
    const int n = r.uniform_int(1, k_shapes_max_objects);
    std::vector<category> cats;
    if (config.split == shapes_split::probe) {
        cats.push_back(k_yellow_triangle);
        for (int i = 1; i < n; ++i) {
            cats.push_back(random_category_except(r, k_green_square));
        }
        // the yellow triangle's place in the left-to-right order is set by the layout, not by this order
        return cats;
    }
    // Green squares never come from the draw: they appear only as a yellow triangle's companion, so in this
    // distribution a green square implies a yellow triangle, and a yellow triangle implies a green square 98%
    // of the time. A model can then answer questions about either from the evidence for the other, and
    // little in training tells it which to trust: the probe (a yellow triangle alone) measures what it chose.
    for (int i = 0; i < n; ++i) {
        cats.push_back(random_category_except(r, k_green_square));
    }
    const auto first_yt = std::find(cats.begin(), cats.end(), k_yellow_triangle);
    if (first_yt != cats.end() && r.uniform01() < config.cooccurrence_rate) {
        if (cats.size() == 1) {
            cats.push_back(k_green_square);
        } else {
            // replace a random object other than the first yellow triangle
            const auto keep = size_t(first_yt - cats.begin());
            size_t victim = keep;
            while (victim == keep) {
                victim = size_t(r.uniform_int(0, int32_t(cats.size()) - 1));
            }
            cats[victim] = k_green_square;
        }
    }
    return cats;
}

struct placement {
    int32_t x0, y0, side;
};

// The companion green square sits right after its yellow triangle in the left-to-right order, so captions
// read "... a yellow triangle , a green square ..." or "... a yellow triangle and a green square .": the
// co-occurrence is also a fixed word sequence, a language prior the caption decoder can learn from the text
// alone (as a real captioner learns "fork" after "knife"). Reassigns the categories to the laid-out places.
void seat_companion(std::vector<category> & cats, const std::vector<placement> & layout, rng & r) {
    const auto gs = std::find(cats.begin(), cats.end(), k_green_square);
    if (gs == cats.end()) {
        return; // standard scenes have a green square only as a yellow triangle's companion
    }
    cats.erase(gs);
    cats.erase(std::find(cats.begin(), cats.end(), k_yellow_triangle));
    // places in left-to-right order of their box centres (the caption's order; ties keep draw order)
    std::vector<size_t> order(layout.size());
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return 2 * layout[a].x0 + layout[a].side < 2 * layout[b].x0 + layout[b].side;
    });
    const size_t slot = size_t(r.uniform_int(0, int32_t(layout.size()) - 2));
    std::vector<category> seated(layout.size());
    seated[order[slot]] = k_yellow_triangle;
    seated[order[slot + 1]] = k_green_square;
    size_t next = 0;
    for (size_t k = 0; k < order.size(); ++k) {
        if (k != slot && k != slot + 1) {
            seated[order[k]] = cats[next++];
        }
    }
    cats = std::move(seated);
}

bool fits(const placement & p, const std::vector<placement> & placed, int32_t min_dx) {
    constexpr int32_t gap = 2;
    for (const placement & q : placed) {
        const bool apart = p.x0 + p.side + gap <= q.x0 || q.x0 + q.side + gap <= p.x0 ||
                           p.y0 + p.side + gap <= q.y0 || q.y0 + q.side + gap <= p.y0;
        // centres compared at twice the resolution to stay in integers
        const int32_t dcx2 = std::abs((2 * p.x0 + p.side) - (2 * q.x0 + q.side));
        if (!apart || dcx2 < 2 * min_dx) {
            return false;
        }
    }
    return true;
}

// Non-overlapping squares (the objects' planned boxes) for n objects; shrinks the objects if a layout is
// hard to find, so it always terminates.
std::vector<placement> draw_layout(int32_t size, size_t n, rng & r) {
    const int32_t lo = std::max<int32_t>(6, int32_t(std::lround(0.16 * size)));
    int32_t hi = std::max<int32_t>(lo, int32_t(std::lround(0.30 * size)));
    const int32_t min_dx = std::max<int32_t>(2, int32_t(std::lround(0.10 * size)));
    for (;;) {
        std::vector<placement> placed;
        for (size_t i = 0; i < n; ++i) {
            bool ok = false;
            for (int attempt = 0; attempt < 300 && !ok; ++attempt) {
                placement p{};
                p.side = r.uniform_int(lo, hi);
                p.x0 = r.uniform_int(1, size - p.side - 1);
                p.y0 = r.uniform_int(1, size - p.side - 1);
                if (fits(p, placed, min_dx)) {
                    placed.push_back(p);
                    ok = true;
                }
            }
            if (!ok) {
                break;
            }
        }
        if (placed.size() == n) {
            return placed;
        }
        hi = std::max(lo, hi - std::max<int32_t>(1, hi / 10));
    }
}

void rasterize(cv::Mat & m, shape_kind shape, const placement & p) {
    const int s = p.side;
    switch (shape) {
        case shape_kind::circle: {
            const int radius = (s - 1) / 2; // diameter 2r+1 <= s: inside the planned box
            cv::circle(m, cv::Point(p.x0 + radius, p.y0 + radius), radius, cv::Scalar(255), cv::FILLED, cv::LINE_8);
            break;
        }
        case shape_kind::square:
            cv::rectangle(m, cv::Rect(p.x0, p.y0, s, s), cv::Scalar(255), cv::FILLED, cv::LINE_8);
            break;
        case shape_kind::triangle: {
            const cv::Point pts[3] = {{p.x0, p.y0 + s - 1}, {p.x0 + s - 1, p.y0 + s - 1}, {p.x0 + (s - 1) / 2, p.y0}};
            cv::fillConvexPoly(m, pts, 3, cv::Scalar(255), cv::LINE_8);
            break;
        }
    }
}

std::string phrase(const shapes_object & o) { return std::string("a ") + color_name(o.color) + " " + shape_name(o.shape); }

} // namespace

const char * shape_name(shape_kind shape) {
    switch (shape) {
        case shape_kind::circle:   return "circle";
        case shape_kind::square:   return "square";
        case shape_kind::triangle: return "triangle";
    }
    return "circle";
}

const char * color_name(color_kind color) {
    switch (color) {
        case color_kind::red:    return "red";
        case color_kind::green:  return "green";
        case color_kind::blue:   return "blue";
        case color_kind::yellow: return "yellow";
    }
    return "red";
}

std::string shapes_yesno_question(color_kind color, shape_kind shape) {
    return std::string("is there a ") + color_name(color) + " " + shape_name(shape) + " ?";
}

std::string shapes_color_question(shape_kind shape) { return std::string("what color is the ") + shape_name(shape) + " ?"; }

std::string shapes_shape_question(color_kind color) {
    return std::string("what shape is the ") + color_name(color) + " object ?";
}

std::vector<std::string> shapes_words() {
    std::set<std::string> words = {"a", "and", ",", ".", "?", "describe", "the", "image", "is", "there",
                                   "what", "color", "shape", "object", "yes", "no"};
    for (shape_kind s : k_shape_kinds) {
        words.insert(shape_name(s));
    }
    for (color_kind c : k_color_kinds) {
        words.insert(color_name(c));
    }
    return {words.begin(), words.end()};
}

std::string shapes_caption(const std::vector<shapes_object> & objects) {
    std::string out;
    for (size_t i = 0; i < objects.size(); ++i) {
        if (i > 0) {
            out += i + 1 == objects.size() ? " and " : " , ";
        }
        out += phrase(objects[i]);
    }
    return out + " .";
}

void validate_shapes_config(const shapes_config & config) {
    if (config.size < k_shapes_min_size || config.size > k_shapes_max_size) {
        throw error(errc::invalid_argument, "shapes: image size " + std::to_string(config.size) +
                                                " is out of range: " + std::to_string(k_shapes_max_objects) +
                                                " objects need at least " + std::to_string(k_shapes_min_size) +
                                                " px, and at most " + std::to_string(k_shapes_max_size) + " px are supported");
    }
    if (!(config.cooccurrence_rate >= 0.0 && config.cooccurrence_rate <= 1.0)) {
        throw error(errc::invalid_argument,
                    "shapes: co-occurrence rate " + std::to_string(config.cooccurrence_rate) + " is not in [0, 1]");
    }
}

shapes_scene make_shapes_scene(const shapes_config & config, uint64_t seed, int64_t index) {
    validate_shapes_config(config);
    const uint64_t split_salt = config.split == shapes_split::probe ? 0x70726f6265ull : 0;
    rng r(mix(mix(seed ^ split_salt) + uint64_t(index)));
    const int32_t n = config.size;

    shapes_scene scene;
    scene.image.nx = scene.image.ny = n;
    scene.image.rgb.assign(size_t(n) * n * 3, 0);
    scene.background = paint_background(scene.image, r);

    std::vector<category> cats = draw_categories(config, r);
    const std::vector<placement> layout = draw_layout(n, cats.size(), r);
    if (config.split == shapes_split::standard) {
        seat_companion(cats, layout, r);
    }
    for (size_t i = 0; i < cats.size(); ++i) {
        shapes_object o;
        o.shape = cats[i].shape;
        o.color = cats[i].color;
        o.rgb = paint_color(o.color, r);
        cv::Mat m = cv::Mat::zeros(n, n, CV_8U);
        rasterize(m, o.shape, layout[i]);
        o.pixels = mask::empty(n, n);
        o.box = {n, n, 0, 0};
        for (int y = 0; y < n; ++y) {
            const uint8_t * row = m.ptr<uint8_t>(y);
            for (int x = 0; x < n; ++x) {
                if (row[x] == 0) {
                    continue;
                }
                o.pixels.keep[size_t(y) * n + x] = 1;
                ++o.area;
                o.box.x0 = std::min(o.box.x0, x);
                o.box.y0 = std::min(o.box.y0, y);
                o.box.x1 = std::max(o.box.x1, x + 1);
                o.box.y1 = std::max(o.box.y1, y + 1);
                std::copy(o.rgb.begin(), o.rgb.end(), scene.image.rgb.begin() + ptrdiff_t((size_t(y) * n + x) * 3));
            }
        }
        scene.objects.push_back(std::move(o));
    }
    std::stable_sort(scene.objects.begin(), scene.objects.end(), [](const shapes_object & a, const shapes_object & b) {
        return a.box.x0 + a.box.x1 < b.box.x0 + b.box.x1;
    });
    scene.caption = shapes_caption(scene.objects);

    // yes/no in pairs: one present category and one absent one, so the answer prior is exactly 50%
    std::vector<int> present, absent;
    std::array<int, k_n_categories> count{};
    for (const shapes_object & o : scene.objects) {
        ++count[size_t(category_index({o.shape, o.color}))];
    }
    for (int i = 0; i < k_n_categories; ++i) {
        const bool is_probe_question = config.split == shapes_split::probe && category_at(i) == k_green_square;
        if (count[size_t(i)] > 0) {
            present.push_back(i);
        } else if (!is_probe_question) {
            absent.push_back(i);
        }
    }
    const category yes_cat = category_at(present[size_t(r.uniform_int(0, int32_t(present.size()) - 1))]);
    const category no_cat  = category_at(absent[size_t(r.uniform_int(0, int32_t(absent.size()) - 1))]);
    scene.qa.push_back({"yesno", shapes_yesno_question(yes_cat.color, yes_cat.shape), "yes"});
    scene.qa.push_back({"yesno", shapes_yesno_question(no_cat.color, no_cat.shape), "no"});

    // attribute questions only where the answer is unique
    std::vector<const shapes_object *> unique_shape, unique_color;
    for (const shapes_object & o : scene.objects) {
        const auto same_shape = std::count_if(scene.objects.begin(), scene.objects.end(),
                                              [&](const shapes_object & q) { return q.shape == o.shape; });
        const auto same_color = std::count_if(scene.objects.begin(), scene.objects.end(),
                                              [&](const shapes_object & q) { return q.color == o.color; });
        if (same_shape == 1) unique_shape.push_back(&o);
        if (same_color == 1) unique_color.push_back(&o);
    }
    if (!unique_shape.empty()) {
        const shapes_object & o = *unique_shape[size_t(r.uniform_int(0, int32_t(unique_shape.size()) - 1))];
        scene.qa.push_back({"color", shapes_color_question(o.shape), color_name(o.color)});
    }
    if (!unique_color.empty()) {
        const shapes_object & o = *unique_color[size_t(r.uniform_int(0, int32_t(unique_color.size()) - 1))];
        scene.qa.push_back({"shape", shapes_shape_question(o.color), shape_name(o.shape)});
    }
    if (config.split == shapes_split::probe) {
        scene.qa.push_back({"probe", shapes_yesno_question(k_green_square.color, k_green_square.shape), "no"});
    }
    return scene;
}

} // namespace eagle
