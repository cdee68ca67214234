// simple: explain what a vision-language model says about an image, with EAGLE.
//
//   eagle-simple [image.png] [--words N]
//
// It runs on the mock engine (eagle/mock-vlm.h): a weight-free model that describes the colour of each image
// quadrant, so it needs no model files. With a real model, only the first line of main changes:
//   auto model = eagle::load_vlm({.model_path = "m.gguf", .mmproj_path = "mmproj.gguf"}); // eagle/backends.h
#include "eagle/eagle.h"
#include "eagle/mock-vlm.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace {

// A 64x64 test card when no image is given: four coloured quadrants.
eagle::image_rgb8 test_card() {
    const int32_t n = 64;
    eagle::image_rgb8 image{n, n, std::vector<uint8_t>(size_t(n) * n * 3)};
    const uint8_t colours[4][3] = {{200, 40, 40}, {40, 160, 40}, {40, 60, 200}, {220, 200, 40}};
    for (int32_t y = 0; y < n; ++y) {
        for (int32_t x = 0; x < n; ++x) {
            const uint8_t * c = colours[(y * 2 / n) * 2 + x * 2 / n];
            for (int k = 0; k < 3; ++k) {
                image.rgb[(size_t(y) * n + x) * 3 + k] = c[k];
            }
        }
    }
    return image;
}

// A coarse text picture of a map: one character per grid cell, darker = more important.
void print_map(const std::vector<float> & map, int32_t nx, int32_t ny) {
    const char * shades = " .:-=+*#%@";
    for (int32_t gy = 0; gy < 8; ++gy) {
        std::printf("    ");
        for (int32_t gx = 0; gx < 16; ++gx) {
            const float v = map[size_t(gy * ny / 8) * nx + size_t(gx * nx / 16)];
            std::putchar(shades[std::min(9, std::max(0, int(v * 9.999f)))]);
        }
        std::printf("\n");
    }
}

} // namespace

int main(int argc, char ** argv) {
    try {
        // 1. a model and a session on it (the session is a scorer: it rates masked images)
        const std::unique_ptr<eagle::vlm_model> model = eagle::load_mock_vlm();
        const std::unique_ptr<eagle::vlm_session> session = model->new_session({});

        // 2. an image and the model's own answer about it
        const eagle::image_rgb8 image = argc > 1 ? eagle::load_image(argv[1]) : test_card();
        const std::string prompt = "describe the image";
        const eagle::generation answer = session->generate({image, prompt});
        std::printf("model: %s\nanswer: %s\n", model->description().c_str(), answer.text.c_str());

        // 3. the image cut into regions, and the request: explain every token of the answer
        const eagle::region_set regions = eagle::make_grid_regions(image.nx, image.ny, 4, 4);
        eagle::score_request request;
        request.image  = image;
        request.prompt = prompt;
        for (const eagle::generated_token & token : answer.tokens) {
            request.answer.push_back(token.id);
        }

        // 4. EAGLE: rank the regions by how much they make the model say its answer
        eagle::explain_params params;
        params.mode = eagle::search_mode::lazy;
        const eagle::explanation ex = eagle::explain(*session, request, regions, params);
        std::printf("%d regions ranked with %lld masked images scored (%lld from the memo)\n", ex.n_regions,
                    (long long) ex.n_evaluations, (long long) ex.n_memo_hits);
        std::printf("most important regions first:");
        for (size_t k = 0; k < ex.order.size() && k < 4; ++k) {
            std::printf(" %d", ex.order[k]);
        }
        std::printf("\n\nsentence map (darker = more important):\n");
        print_map(eagle::attribution_map(ex, regions), image.nx, image.ny);

        // 5. one word: explain it alone (a word-level explanation has its own ranking), and ask whether it
        //    comes from the image or from the language prior
        for (size_t t = 0; t < request.answer.size(); ++t) {
            const std::string word = model->token_piece(request.answer[t]);
            if (word != "red" && word != "green" && word != "blue" && word != "yellow") {
                continue;
            }
            eagle::score_request one = request;
            one.target_indices = {int32_t(t)};
            const eagle::explanation wx = eagle::explain(*session, one, regions, params);
            std::printf("\n\"%s\": %s (influence %.2f), most important region %d\n", word.c_str(),
                        wx.reliance[0].is_visual ? "seen in the image" : "language prior", wx.reliance[0].influence,
                        wx.order[0]);
            print_map(eagle::attribution_map(wx, regions), image.nx, image.ny);
        }
        return 0;
    } catch (const eagle::error & e) {
        std::fprintf(stderr, "simple: %s\n", e.what());
        return 1;
    }
}
