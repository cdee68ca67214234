// report.html without a model: a realistic explanation from an analytic scorer (one planted region makes the
// "red" token likely), rendered to the page; its structure and escaping checked as text, then the page
// rendered by headless Chromium and the screenshot checked for the images the page inlines.
#include "eagle/error.h"
#include "eagle/explain.h"
#include "eagle/image.h"
#include "eagle/file.h"
#include "eagle/report.h"
#include "mock-scorer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_set>

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr int32_t image_nx = 240, image_ny = 180;
constexpr int32_t grid_cols = 6, grid_rows = 4;
constexpr int32_t planted = 8, neighbour = 9; // grid cells: row 1, columns 2 and 3

// the answer "A red <b>&"' square \xC3( here\n"; targets: the four middle pieces
const std::vector<std::string> words = {"A", " red", " <b>&\"'", " square", "\xC3(", " here", "\n"};
const std::vector<int32_t> target_indices = {1, 2, 3, 4};
const std::string nasty_escaped = "&lt;b&gt;&amp;&quot;&#39;";
const std::string invalid_escaped = "\xEF\xBF\xBD("; // the lone 0xC3 becomes U+FFFD
const std::string nasty_prompt = "What is <this>? </script><script>alert(1)</script>";

// A smooth two-colour gradient with a red square on the planted cell: the thing the answer talks about.
eagle::image_rgb8 make_image() {
    eagle::image_rgb8 image{image_nx, image_ny, std::vector<uint8_t>(size_t(image_nx) * image_ny * 3)};
    for (int32_t y = 0; y < image_ny; ++y) {
        for (int32_t x = 0; x < image_nx; ++x) {
            uint8_t * px = image.rgb.data() + (size_t(y) * image_nx + x) * 3;
            const bool in_square = x >= 88 && x < 112 && y >= 54 && y < 82;
            px[0] = in_square ? 220 : uint8_t(40 + 120 * x / image_nx);
            px[1] = in_square ? 30 : uint8_t(90 + 100 * y / image_ny);
            px[2] = in_square ? 30 : uint8_t(150 - 60 * x / image_nx);
        }
    }
    return image;
}

struct report_fixture {
    eagle::image_rgb8 image;
    eagle::region_set regions;
    eagle::explanation ex;
    eagle::explanation_record record;
    eagle::explanation_images input;
};

// The whole pipeline the CLI runs, with an analytic scorer in place of the model:
//   " red"     rises with the visible share of the planted cell (vision); a little with its neighbour, since a
//              token that depends on one region only gets a flat word-level map (every later gain is zero)
//   nasty      the language prior: barely moves (language)
//   " square"  the planted cell and its neighbour
//   invalid    a little of everything
report_fixture make_fixture(bool with_hallucination) {
    report_fixture f;
    f.image = make_image();
    f.regions = eagle::make_grid_regions(image_nx, image_ny, grid_cols, grid_rows);
    eagle::testing::analytic_scorer scorer(f.regions, int32_t(target_indices.size()),
                                           [](int32_t t, const std::vector<double> & kept) {
        double mean = 0;
        for (double k : kept) mean += k;
        mean /= double(kept.size());
        switch (t) {
            case 0:  return float(0.04 + 0.8 * kept[planted] + 0.1 * kept[neighbour]);
            case 1:  return float(0.55 + 0.05 * kept[3]);
            case 2:  return float(0.1 + 0.5 * kept[planted] + 0.3 * kept[neighbour]);
            default: return float(0.2 + 0.2 * mean);
        }
    });
    eagle::score_request request = eagle::testing::dummy_request(image_nx, image_ny, int32_t(words.size()));
    request.image = f.image;
    request.prompt = nasty_prompt;
    request.target_indices = target_indices;
    const eagle::explain_params params; // lazy search, the defaults
    f.ex = eagle::explain(scorer, request, f.regions, params);

    eagle::explanation_record & rec = f.record;
    rec.words = words;
    rec.answer = request.answer;
    rec.target_indices = target_indices;
    rec.target_ids = std::vector<int32_t>(target_indices.size(), 1);
    for (const std::string & w : words) rec.answer_text += w;
    rec.engine.eagle_version = "0.0.0-test";
    rec.engine.llama_cpp_version = "b0000 (test)";
    rec.engine.model_path = "/models/test-model.gguf";
    rec.engine.mmproj_path = "/models/test-mmproj.gguf";
    rec.engine.n_threads = 2;
    rec.request.image_path = "/images/red-square.png";
    rec.request.image = f.image;
    rec.request.prompt = nasty_prompt;
    rec.request.params = params;
    rec.regions = f.regions;
    rec.result = f.ex;
    rec.scorer.n_evaluations = f.ex.n_evaluations;

    const std::vector<float> map = eagle::attribution_map(f.ex, f.regions);
    f.input.image = f.image;
    f.input.overlay = eagle::render_overlay(f.image, map);
    for (size_t t = 0; t < target_indices.size(); ++t) {
        f.input.token_overlays.push_back(
            eagle::render_overlay(f.image, eagle::token_attribution_map(f.ex, f.regions, int32_t(t))));
    }
    if (with_hallucination) {
        // the CLI's walk: keep the top k regions for k = n, n-1, ... until the answer starts right
        const int32_t n = f.ex.n_regions, k_hit = n - 3;
        eagle::hallucination_record h;
        h.correct_answer = "A red"; // what a corrected answer starts with (metrics::minimal_correction)
        for (int32_t k = 1; k <= n; ++k) {
            h.revised_answering.push_back(k == n ? std::optional<std::string>("A blue <square> & more")
                                          : k > k_hit ? std::optional<std::string>("A <i>blue</i> square")
                                          : k == k_hit ? std::optional<std::string>("A red square") : std::nullopt);
        }
        for (const auto & row : f.ex.insertion_word_score) h.target_probability_curve.push_back(row.front());
        h.result = eagle::minimal_correction(h.revised_answering,
                                             std::vector<double>(f.ex.region_area.begin(), f.ex.region_area.end()), h.correct_answer);
        EXPECT_TRUE(h.result.is_corrected);
        EXPECT_EQ(h.result.n_kept, k_hit);
        rec.hallucination = h;
        std::vector<float> hmap = map;
        for (float & v : hmap) v = 1.0f - v;
        f.input.hallucination_overlay = eagle::render_overlay(f.image, hmap, eagle::colormap::cool);
    }
    return f;
}

size_t count_of(const std::string & s, const std::string & needle) {
    size_t n = 0;
    for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + needle.size())) ++n;
    return n;
}

bool is_valid_utf8(const std::string & s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

fs::path tmp_dir() {
    const fs::path dir = fs::path(EAGLE_TEST_TMP_DIR) / "report";
    fs::create_directories(dir);
    return dir;
}

int exit_code_of(int status) { return status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::string read_text(const fs::path & path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST(report_html, is_self_contained_and_complete) {
    const report_fixture f = make_fixture(false);
    const std::string html = eagle::render_html_report(f.record, f.input);

    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("</html>"), std::string::npos);
    EXPECT_TRUE(is_valid_utf8(html));
    // nothing from the network or the disk: every src is a data URI, no stylesheet links, no imports
    EXPECT_EQ(html.find("http://"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);
    EXPECT_EQ(html.find("src=\"/"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    EXPECT_EQ(html.find("@import"), std::string::npos);
    EXPECT_EQ(html.find("url("), std::string::npos);
    const size_t n_src = count_of(html, " src=\"");
    EXPECT_EQ(n_src, count_of(html, " src=\"data:image/png;base64,"));
    EXPECT_EQ(n_src, 2 + target_indices.size()); // image, sentence overlay, one overlay per target

    // header: the prompt (escaped), the answer, the run's identity, the search's counts
    EXPECT_NE(html.find("What is &lt;this&gt;? &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_EQ(count_of(html, "<script"), 1u); // ours only
    EXPECT_NE(html.find("test-model.gguf"), std::string::npos);
    EXPECT_NE(html.find("b0000 (test)"), std::string::npos);
    EXPECT_NE(html.find(">shortlist<"), std::string::npos); // the default search
    EXPECT_NE(html.find("exact"), std::string::npos);
    EXPECT_NE(html.find("memo hits"), std::string::npos);

    // every token on the strip, every target selectable (chip and <select> option), with its panel
    for (const char * piece : {">A<", ">red<", ">square<", ">here<"}) {
        EXPECT_NE(html.find(piece), std::string::npos) << piece;
    }
    EXPECT_NE(html.find(">" + nasty_escaped + "<"), std::string::npos);
    EXPECT_NE(html.find(">" + invalid_escaped + "<"), std::string::npos);
    for (size_t t = 0; t < target_indices.size(); ++t) {
        const std::string key = "data-key=\"t" + std::to_string(t) + "\"";
        EXPECT_EQ(count_of(html, key), 2u) << key; // its chip and its panel
        EXPECT_NE(html.find("<option value=\"t" + std::to_string(t) + "\">"), std::string::npos);
    }
    EXPECT_NE(html.find("<option value=\"all\">whole answer</option>"), std::string::npos);
    // the raw nasty piece never reaches the page: not as markup, not in an attribute
    EXPECT_EQ(html.find("<b>&"), std::string::npos);
    EXPECT_EQ(html.find("\xC3("), std::string::npos);

    // the reliance colours: the vision token red-ish, the language-prior token blue-ish
    ASSERT_EQ(f.ex.reliance.size(), target_indices.size());
    EXPECT_TRUE(f.ex.reliance[0].is_visual);
    EXPECT_FALSE(f.ex.reliance[1].is_visual);
    EXPECT_NE(html.find("data-verdict=\"vision\""), std::string::npos);
    EXPECT_NE(html.find("data-verdict=\"language\""), std::string::npos);

    // the curves: one chart per panel (insertion and deletion), the ranking's bars
    EXPECT_GE(count_of(html, "<svg"), target_indices.size() + 2);
    EXPECT_EQ(count_of(html, "data-series=\"insertion\""), target_indices.size() + 1);
    EXPECT_EQ(count_of(html, "data-series=\"deletion\""), target_indices.size() + 1);
    EXPECT_GE(count_of(html, "class=\"bar"), size_t(f.ex.n_regions));
    // parameters flattened
    EXPECT_NE(html.find(">scorer.n_evaluations<"), std::string::npos);
    EXPECT_NE(html.find(">lazy_batch<"), std::string::npos);
    // no hallucination section without a diagnosis
    EXPECT_EQ(html.find("Hallucination diagnosis"), std::string::npos);
}

TEST(report_html, shows_the_hallucination_diagnosis) {
    const report_fixture f = make_fixture(true);
    const std::string html = eagle::render_html_report(f.record, f.input);
    EXPECT_NE(html.find("Hallucination diagnosis"), std::string::npos);
    EXPECT_NE(html.find("A blue &lt;square&gt; &amp; more"), std::string::npos);
    EXPECT_NE(html.find("A &lt;i&gt;blue&lt;/i&gt; square"), std::string::npos);
    EXPECT_NE(html.find("class=\"hit\""), std::string::npos);
    EXPECT_EQ(count_of(html, " src=\"data:image/png;base64,"), 3 + target_indices.size());
    const double minimal = f.record.hallucination->result.removed_fraction;
    char expected[64];
    std::snprintf(expected, sizeof expected, "%.1f%% of the image removed", 100.0 * minimal);
    EXPECT_NE(html.find(expected), std::string::npos) << expected;
    EXPECT_EQ(html.find("http://"), std::string::npos);
    EXPECT_TRUE(is_valid_utf8(html));
}

TEST(report_html, rejects_inputs_that_do_not_fit) {
    report_fixture f = make_fixture(false);
    eagle::explanation_images bad = f.input;
    bad.token_overlays.pop_back();
    try {
        eagle::render_html_report(f.record, bad);
        FAIL() << "3 overlays for 4 targets accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("3 token overlays for 4 targets"), std::string::npos) << e.what();
    }
    eagle::explanation_record bad_record = f.record;
    bad_record.result.insertion_word_score.back().pop_back(); // a ranking step without a score for one target
    EXPECT_THROW(eagle::render_html_report(bad_record, f.input), eagle::error);
    bad_record = f.record;
    bad_record.result.region_area.pop_back();
    EXPECT_THROW(eagle::render_html_report(bad_record, f.input), eagle::error);
}

// The page as a browser draws it: headless Chromium (installed by scripts/setup.sh) takes a screenshot, which
// must show the inlined images, the sentence-level overlay's colours among them.
TEST(report_html, renders_in_headless_chromium) {
    ASSERT_EQ(std::system("command -v chromium >/dev/null 2>&1"), 0)
        << "chromium is not installed: scripts/setup.sh installs it (apt-get install -y chromium)";

    const report_fixture f = make_fixture(true);
    const fs::path dir = tmp_dir();
    const fs::path html_path = dir / "report.html", shot = dir / "report.png", log = dir / "chromium.log";
    const fs::path profile = dir / ("chromium-profile-" + std::to_string(getpid()));
    eagle::write_file_atomic(html_path.string(), eagle::render_html_report(f.record, f.input));
    fs::remove(shot);
    fs::remove_all(profile);

    const std::string cmd = "timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                            "--disable-background-networking --disable-component-update --disable-sync "
                            "--disable-dev-shm-usage --hide-scrollbars --user-data-dir='" + profile.string() +
                            "' --screenshot='" + shot.string() + "' --window-size=1200,1600 'file://" +
                            fs::absolute(html_path).string() + "' >'" + log.string() + "' 2>&1";
    const int rc = exit_code_of(std::system(cmd.c_str()));
    fs::remove_all(profile);
    ASSERT_EQ(rc, 0) << "chromium failed (exit " << rc << (rc == 124 ? ", timed out after 60 s" : "") << "): " << cmd
                     << "\n" << read_text(log);
    ASSERT_TRUE(fs::exists(shot)) << "chromium wrote no screenshot: " << cmd << "\n" << read_text(log);

    const eagle::image_rgb8 page = eagle::load_image(shot.string());
    EXPECT_EQ(page.nx, 1200);
    EXPECT_EQ(page.ny, 1600);

    // not blank: many colours and a real spread of brightness
    std::unordered_set<uint32_t> colors;
    double sum = 0, sum2 = 0;
    const size_t n_px = size_t(page.nx) * page.ny;
    for (size_t i = 0; i < n_px; ++i) {
        const uint8_t * p = page.rgb.data() + i * 3;
        colors.insert(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
        const double l = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        sum += l;
        sum2 += l * l;
    }
    const double mean = sum / double(n_px), sd = std::sqrt(std::max(0.0, sum2 / double(n_px) - mean * mean));
    EXPECT_GT(colors.size(), 2000u) << "the screenshot looks blank: " << shot;
    EXPECT_GT(sd, 15.0) << "the screenshot looks blank: " << shot;

    // the sentence overlay is on screen: its dominant colours (bins of 16 levels holding >= 1% of its pixels,
    // each as its mean colour) are found in the screenshot, allowing for the browser's resampling
    std::map<uint32_t, std::array<double, 4>> bins; // r, g, b sums and count
    const eagle::image_rgb8 & overlay = f.input.overlay;
    for (size_t i = 0; i < size_t(overlay.nx) * overlay.ny; ++i) {
        const uint8_t * p = overlay.rgb.data() + i * 3;
        auto & b = bins[uint32_t(p[0] >> 4) << 8 | uint32_t(p[1] >> 4) << 4 | (p[2] >> 4)];
        b[0] += p[0];
        b[1] += p[1];
        b[2] += p[2];
        b[3] += 1;
    }
    size_t n_dominant = 0, n_found = 0;
    for (const auto & [key, b] : bins) {
        if (b[3] < 0.01 * overlay.nx * overlay.ny) continue;
        ++n_dominant;
        const double r = b[0] / b[3], g = b[1] / b[3], bl = b[2] / b[3];
        for (uint32_t c : colors) {
            if (std::abs(double(c >> 16) - r) <= 10 && std::abs(double((c >> 8) & 255) - g) <= 10 &&
                std::abs(double(c & 255) - bl) <= 10) {
                ++n_found;
                break;
            }
        }
    }
    ASSERT_GT(n_dominant, 3u);
    EXPECT_GE(double(n_found), 0.9 * double(n_dominant))
        << n_found << " of " << n_dominant << " sentence-overlay colours on the screenshot " << shot;
}
