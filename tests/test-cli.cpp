// The `eagle` CLI contract: JSON shapes other tools rely on, and bad input -> one clear line, nonzero exit.
#include "cli-runner.h"
#include "gguf-layout.h"

#include "eagle/image.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using eagle::testing::run_result;

std::string tmp_dir() {
    const std::string dir = std::string(EAGLE_TEST_TMP_DIR) + "/cli";
    std::filesystem::create_directories(dir);
    return dir;
}

std::string read_file(const std::string & path) { return eagle::testing::read_text(path); }

run_result run_eagle(const std::vector<std::string> & args) { return eagle::testing::run_eagle(args, tmp_dir()); }

const std::string k_fixture = EAGLE_TEST_FIXTURE_DIR;
const std::string k_model   = k_fixture + "/fixture-model.gguf";
const std::string k_mmproj  = k_fixture + "/fixture-mmproj.gguf";
const std::string k_image   = std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapes-1.png";

std::vector<std::string> model_args() { return {"--model", k_model, "--mmproj", k_mmproj, "--image", k_image}; }

// one line on stderr, naming `needle`, and the expected exit code
void expect_clean_error(const run_result & r, int exit_code, const std::string & needle) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("eagle: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

std::string write_file(const std::string & name, const std::string & content) {
    const std::string path = tmp_dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

} // namespace

// Every run of eagle loads its shared libraries at start, so nothing every run needs may link OpenCV's imgcodecs,
// ximgproc or videoio: their ~220 libraries (GDAL's, FFmpeg's) cost 0.16 s and more of each start
// (src/image/codecs-module.h, video-module.h). The dynamic linker lists what the executable maps.
TEST(cli, the_executable_maps_no_opencv_codecs_superpixels_or_video) {
    const std::string listing = tmp_dir() + "/loaded-objects-" + std::to_string(getpid()) + ".txt";
    const std::string cmd = "LD_TRACE_LOADED_OBJECTS=1 " + eagle::testing::shell_quote(EAGLE_CLI_PATH) + " > " +
                            eagle::testing::shell_quote(listing) + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const std::string text = eagle::testing::read_text(listing);
    EXPECT_NE(text.find("libllama"), std::string::npos) << text; // the listing is the executable's
    for (const char * name : {"libopencv_imgcodecs", "libopencv_ximgproc", "libopencv_videoio", "libgdal", "libavcodec"}) {
        EXPECT_EQ(text.find(name), std::string::npos) << name << " is loaded at every start:\n" << text;
    }
}

TEST(cli, version_names_llama_cpp) {
    const run_result r = run_eagle({"--version"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("llama.cpp 0."), std::string::npos) << r.out;
}

TEST(cli, generate_json_contract) {
    std::vector<std::string> args = model_args();
    args.insert(args.begin(), "generate");
    args.insert(args.end(), {"--max-tokens", "5", "--json"});
    const run_result r = run_eagle(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_TRUE(j["text"].is_string());
    ASSERT_TRUE(j["tokens"].is_array());
    EXPECT_GE(j["tokens"].size(), 1u);
    EXPECT_LE(j["tokens"].size(), 5u);
    for (const auto & t : j["tokens"]) {
        EXPECT_TRUE(t["id"].is_number_integer());
        EXPECT_TRUE(t["piece"].is_string());
        EXPECT_GE(t["prob"].get<double>(), 0.0);
        EXPECT_LE(t["prob"].get<double>(), 1.0);
    }
    EXPECT_TRUE(j["llama_cpp"].is_string());
    // the run records what the loaded model resolved, as explanation.json does: auto workers on one thread
    // (the tests' EAGLE_THREADS) are one, BLAS on or off; two workers asked are two
    EXPECT_EQ(j["run"]["workers"], 1) << j["run"].dump();
    EXPECT_TRUE(j["run"]["blas"].is_boolean()) << j["run"].dump();
    args.insert(args.end(), {"--threads", "2", "--workers", "2"});
    const run_result two = run_eagle(args);
    ASSERT_EQ(two.exit_code, 0) << two.err;
    EXPECT_EQ(nlohmann::json::parse(two.out)["run"]["workers"], 2);
}

TEST(cli, score_json_contract_and_agreement_with_generate) {
    std::vector<std::string> gen = model_args();
    gen.insert(gen.begin(), "generate");
    gen.insert(gen.end(), {"--max-tokens", "6", "--json"});
    const run_result g = run_eagle(gen);
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const auto gj = nlohmann::json::parse(g.out);

    // a mask keeping the left half of the image
    const std::string mask_path = tmp_dir() + "/left-half.png";
    {
        // 128x128 8-bit grayscale PNG written via the CLI-independent path: PGM is enough for OpenCV
        const std::string pgm = tmp_dir() + "/left-half.pgm";
        std::ofstream f(pgm, std::ios::binary);
        f << "P5\n128 128\n255\n";
        for (int y = 0; y < 128; ++y) {
            for (int x = 0; x < 128; ++x) {
                f.put(char(x < 64 ? 255 : 0));
            }
        }
        f.close();
        std::filesystem::copy_file(pgm, mask_path, std::filesystem::copy_options::overwrite_existing);
    }
    std::vector<std::string> sc = model_args();
    sc.insert(sc.begin(), "score");
    sc.insert(sc.end(), {"--answer", gj["text"].get<std::string>(), "--mask", mask_path, "--json"});
    const run_result s = run_eagle(sc);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const auto sj = nlohmann::json::parse(s.out);
    ASSERT_EQ(sj["scores"].size(), 2u); // unmasked first, then the mask
    const auto & tokens = sj["tokens"];
    ASSERT_EQ(sj["scores"][0].size(), tokens.size());
    // the text re-tokenizes to the generated tokens (word-level vocabulary); their probabilities agree
    for (size_t t = 0; t < tokens.size() && t < gj["tokens"].size(); ++t) {
        if (tokens[t]["id"] != gj["tokens"][t]["id"]) {
            break;
        }
        EXPECT_NEAR(sj["scores"][0][t].get<double>(), gj["tokens"][t]["prob"].get<double>(), 1e-4) << "token " << t;
    }

    // the same answer as token ids, and the image cropped to its own square (it is square): the same numbers
    std::string ids;
    for (const auto & t : tokens) {
        if (!ids.empty()) {
            ids += ',';
        }
        ids += std::to_string(t["id"].get<int>());
    }
    std::vector<std::string> by_ids = model_args();
    by_ids.insert(by_ids.begin(), "score");
    by_ids.insert(by_ids.end(), {"--answer-ids", "[" + ids + "]", "--mask", mask_path, "--image-fit", "crop", "--json"});
    const run_result s2 = run_eagle(by_ids);
    ASSERT_EQ(s2.exit_code, 0) << s2.err;
    const auto s2j = nlohmann::json::parse(s2.out);
    EXPECT_EQ(s2j["tokens"], tokens);
    EXPECT_EQ(s2j["scores"], sj["scores"]);
    EXPECT_EQ(s2j["run"]["image_fit"], "crop");
}

TEST(cli, missing_model_file) {
    const run_result r = run_eagle({"generate", "--model", "/nonexistent/m.gguf", "--mmproj", k_mmproj, "--image", k_image});
    expect_clean_error(r, 2, "/nonexistent/m.gguf");
}

TEST(cli, unreadable_model_path_is_a_directory) {
    const run_result r = run_eagle({"generate", "--model", tmp_dir(), "--mmproj", k_mmproj, "--image", k_image});
    expect_clean_error(r, 2, tmp_dir());
}

TEST(cli, corrupt_model_and_mmproj) {
    const std::string junk = write_file("junk.gguf", std::string(4096, '\x17'));
    const std::string truncated = write_file("truncated.gguf", read_file(k_model).substr(0, 3000));
    expect_clean_error(run_eagle({"generate", "--model", junk, "--mmproj", k_mmproj, "--image", k_image}), 2, junk);
    expect_clean_error(run_eagle({"generate", "--model", truncated, "--mmproj", k_mmproj, "--image", k_image}), 2, truncated);
    expect_clean_error(run_eagle({"generate", "--model", k_model, "--mmproj", junk, "--image", k_image}), 2, junk);
    const std::string trunc_proj = write_file("truncated-mmproj.gguf", read_file(k_mmproj).substr(0, 5000));
    expect_clean_error(run_eagle({"generate", "--model", k_model, "--mmproj", trunc_proj, "--image", k_image}), 2, trunc_proj);
}

// Under LeakSanitizer (scripts/test-sanitizers.sh): libmtmd leaks the projector it loaded when
// mtmd_init_from_file then fails (tests/sanitizers/lsan-mtmd-init-failure.supp says what); that one upstream leak
// is suppressed for the runs of this test only, with full stacks so that nothing else matches.
struct upstream_leak_suppressed {
    std::string old_asan, old_lsan;
    bool had_asan = false, had_lsan = false;
    upstream_leak_suppressed() {
        const char * asan = std::getenv("ASAN_OPTIONS");
        const char * lsan = std::getenv("LSAN_OPTIONS");
        had_asan = asan != nullptr;
        had_lsan = lsan != nullptr;
        old_asan = asan ? asan : "";
        old_lsan = lsan ? lsan : "";
        setenv("ASAN_OPTIONS", (old_asan + (had_asan ? ":" : "") + "fast_unwind_on_malloc=0").c_str(), 1);
        setenv("LSAN_OPTIONS", (old_lsan + (had_lsan ? ":" : "") + "suppressions=" + EAGLE_TEST_SOURCE_DIR +
                                "/sanitizers/lsan-mtmd-init-failure.supp:print_suppressions=0").c_str(), 1);
    }
    ~upstream_leak_suppressed() {
        had_asan ? setenv("ASAN_OPTIONS", old_asan.c_str(), 1) : unsetenv("ASAN_OPTIONS");
        had_lsan ? setenv("LSAN_OPTIONS", old_lsan.c_str(), 1) : unsetenv("LSAN_OPTIONS");
    }
};

TEST(cli, mmproj_that_does_not_fit_the_model) {
    const upstream_leak_suppressed suppressed;
    const std::string other = k_fixture + "/other/fixture-mmproj.gguf";
    expect_clean_error(run_eagle({"generate", "--model", k_model, "--mmproj", other, "--image", k_image}), 2, other);
}

TEST(cli, model_and_mmproj_swapped) {
    expect_clean_error(run_eagle({"generate", "--model", k_mmproj, "--mmproj", k_model, "--image", k_image}), 2, k_mmproj);
}

TEST(cli, model_without_mmproj) {
    expect_clean_error(run_eagle({"generate", "--model", k_model, "--image", k_image}), 1, "--mmproj");
}

TEST(cli, missing_and_corrupt_image) {
    const std::string bad = write_file("bad.png", "not a png at all");
    expect_clean_error(run_eagle({"generate", "--model", k_model, "--mmproj", k_mmproj, "--image", "/nonexistent/i.png"}), 2,
                       "/nonexistent/i.png");
    expect_clean_error(run_eagle({"generate", "--model", k_model, "--mmproj", k_mmproj, "--image", bad}), 2, bad);
}

TEST(cli, mask_of_the_wrong_size) {
    const std::string mask = tmp_dir() + "/small-mask.pgm";
    {
        std::ofstream f(mask, std::ios::binary);
        f << "P5\n10 12\n255\n" << std::string(120, '\xff');
    }
    std::vector<std::string> args = model_args();
    args.insert(args.begin(), "score");
    args.insert(args.end(), {"--answer", "a red circle", "--mask", mask});
    expect_clean_error(run_eagle(args), 1, "10x12");
}

TEST(cli, prompt_longer_than_the_context) {
    std::vector<std::string> args = model_args();
    args.insert(args.begin(), "score");
    args.insert(args.end(), {"--answer", "a red circle", "--ctx", "16"});
    expect_clean_error(run_eagle(args), 1, "context");
    // longer than the model's training context
    std::string prompt;
    for (int i = 0; i < 3000; ++i) {
        prompt += "red ";
    }
    args = model_args();
    args.insert(args.begin(), "generate");
    args.insert(args.end(), {"--prompt", prompt});
    expect_clean_error(run_eagle(args), 1, "context");
}

TEST(cli, empty_answer) {
    std::vector<std::string> args = model_args();
    args.insert(args.begin(), "score");
    args.insert(args.end(), {"--answer", ""});
    expect_clean_error(run_eagle(args), 1, "empty");
}

TEST(cli, unknown_fill) {
    std::vector<std::string> args = model_args();
    args.insert(args.begin(), "score");
    args.insert(args.end(), {"--answer", "a red circle", "--fill", "purple"});
    expect_clean_error(run_eagle(args), 1, "purple");
}

TEST(cli, explain_bad_inputs) {
    std::vector<std::string> base = model_args();
    base.insert(base.begin(), "explain");
    const std::string out = tmp_dir() + "/explain-bad";
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = base;
        args.insert(args.end(), {"--out", out, "--answer", "a red circle"});
        args.insert(args.end(), extra.begin(), extra.end());
        return run_eagle(args);
    };
    expect_clean_error(with({"--target-word", "zebra"}), 1, "zebra");
    expect_clean_error(with({"--target-index", "9"}), 1, "9");
    expect_clean_error(with({"-D", "100000"}), 1, "100000");
    expect_clean_error(with({"--segmenter", "labels", "--labels", tmp_dir() + "/no-labels.png"}), 2, "no-labels.png");
    expect_clean_error(with({"--search", "greedy"}), 1, "greedy");
    expect_clean_error(with({"--method", "gradcam"}), 1, "gradcam");
    // an empty answer leaves nothing to explain
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--out", out, "--answer", "", "--no-eog"});
    expect_clean_error(run_eagle(args), 1, "empty");
}

// issue 13 (docs/bad-inputs.md): what a user feeds `eagle explain` never crashes it and never prints more than
// eagle's one error line
TEST(cli, explain_survives_thin_and_corrupt_images_and_bad_numbers) {
    std::vector<std::string> base = model_args();
    base.insert(base.begin(), "explain");
    const std::string out = tmp_dir() + "/explain-robust";
    auto explain = [&](const std::string & image, std::vector<std::string> extra) {
        std::vector<std::string> args = base;
        args[args.size() - 1] = image; // --image
        args.insert(args.end(), {"--out", out, "--answer", "a red circle", "-q", "--search", "lazy", "--max-regions", "2"});
        args.insert(args.end(), extra.begin(), extra.end());
        return run_eagle(args);
    };
    // a 40x3 image at D = 4: SLICO's region size 5 exceeds the height (4000x3 at D = 64 crashed with SIGSEGV)
    eagle::image_rgb8 thin{40, 3, std::vector<uint8_t>(40 * 3 * 3)};
    for (size_t i = 0; i < thin.rgb.size(); ++i) thin.rgb[i] = uint8_t(i * 7);
    const std::string thin_png = write_file("thin.png", eagle::png_bytes(thin));
    const run_result ok = explain(thin_png, {"-D", "4"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_EQ(ok.err, "");
    // a truncated PNG: exactly one line on stderr (libpng's "Read Error" used to come first)
    const std::string corrupt = write_file("corrupt.png", read_file(k_image).substr(0, 200));
    expect_clean_error(explain(corrupt, {}), 2, corrupt);
    // bad numbers: exit 1, one line naming the parameter and the value (nan used to exit 0 with null scores)
    expect_clean_error(explain(k_image, {"--lambda1", "nan"}), 1, "lambda1 must be finite and >= 0, got nan");
    expect_clean_error(explain(k_image, {"--lambda2", "-1"}), 1, "lambda2 must be finite and >= 0, got -1");
    expect_clean_error(explain(k_image, {"--stop-fraction", "inf"}), 1, "budget.stop_fraction");
    expect_clean_error(explain(k_image, {"--max-tokens", "0"}), 1, "max_tokens must be >= 1, got 0");
    expect_clean_error(explain(k_image, {"--threads", "-2"}), 1, "n_threads must be >= 0");
    expect_clean_error(explain(k_image, {"--batch", "0"}), 1, "n_seq must be in 1..256, got 0");
    expect_clean_error(explain(k_image, {"--threads", "2", "--workers", "3"}), 1, "workers must be 0 (auto) .. threads (2), got 3");
    expect_clean_error(explain(k_image, {"--workers", "-1"}), 1, "n_workers must be >= 0 (0 = auto), got -1");
    // the servers' own settings decide: an in-process option is one error, before any connection
    expect_clean_error(explain(k_image, {"--server", "http://127.0.0.1:9", "--workers", "2"}), 1,
                       "--workers does not apply with --server");
    expect_clean_error(explain(k_image, {"--server", "http://127.0.0.1:9", "--no-pin-workers"}), 1,
                       "--no-pin-workers does not apply with --server");
}

// CLI11's parse errors used to print two lines ("...\nRun with --help for more information.") and exit 105+
TEST(cli, parse_errors_are_one_line_and_exit_1) {
    expect_clean_error(run_eagle({"explain", "--lambda1", "abc"}), 1, "abc");
    expect_clean_error(run_eagle({"explain", "--no-such-flag"}), 1, "--no-such-flag");
    expect_clean_error(run_eagle({"score", "--answer"}), 1, "--answer");
    expect_clean_error(run_eagle({"no-such-command"}), 1, "no-such-command");
    const run_result help = run_eagle({"explain", "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--lambda1"), std::string::npos);
}

// Untrusted model files: each header field, metadata type and tensor description of the model and of the
// projector tampered with in turn. llama.cpp's GGUF reader validates them; what reaches eagle must be one error
// line naming the file, exit 2 -- never a crash, an abort or an allocation of the claimed size.
TEST(cli, tampered_gguf_files_are_one_error_naming_the_file) {
    using eagle::testing::with_field;
    for (const std::string & original : {k_model, k_mmproj}) {
        const std::string f = read_file(original);
        const eagle::testing::gguf_layout g = eagle::testing::parse_gguf_layout(f);
        ASSERT_FALSE(g.kv_type_at.empty());
        ASSERT_FALSE(g.tensor_type_at.empty());
        const size_t last = g.tensor_type_at.size() - 1;
        const std::vector<std::pair<std::string, std::string>> cases = {
            {"version", with_field<uint32_t>(f, 4, 99)},
            {"n-tensors", with_field<uint64_t>(f, g.n_tensors_at, uint64_t(1) << 60)},
            {"n-kv", with_field<uint64_t>(f, g.n_kv_at, uint64_t(1) << 60)},
            {"key-length", with_field<uint64_t>(f, g.kv_key_at[0], uint64_t(1) << 62)},
            {"kv-type", with_field<uint32_t>(f, g.kv_type_at[0], 99)},
            {"kv-type-last", with_field<uint32_t>(f, g.kv_type_at.back(), 0x7fffffff)},
            {"n-dims", with_field<uint32_t>(f, g.tensor_n_dims_at[0], 99)},
            {"dim", with_field<uint64_t>(f, g.tensor_n_dims_at[0] + 4, uint64_t(1) << 40)},
            {"dim-overflow", with_field<uint64_t>(f, g.tensor_n_dims_at[last] + 4, ~uint64_t(0) / 2)},
            {"tensor-type", with_field<uint32_t>(f, g.tensor_type_at[0], 999)},
            {"tensor-offset", with_field<uint64_t>(f, g.tensor_offset_at[last], uint64_t(1) << 50)},
            {"no-data", f.substr(0, g.tensor_offset_at[last] + 8)},
        };
        const bool is_model = original == k_model;
        for (const auto & [name, content] : cases) {
            const std::string path = write_file((is_model ? "model-" : "mmproj-") + name + ".gguf", content);
            const run_result r = run_eagle({"generate", "--model", is_model ? path : k_model, "--mmproj", is_model ? k_mmproj : path,
                                            "--image", k_image, "--max-tokens", "1"});
            SCOPED_TRACE(path);
            expect_clean_error(r, 2, path);
        }
    }
}

// --system and --chat-template end to end on the embedded default model (ShapesWorld, rendered by llama.cpp's
// chatml): the system turn is scored, its ids between BOS and the unchanged user turn, and recorded;
// --system '' is no system turn; a family that does not exist is one error line
TEST(cli, system_prompt_and_chat_template_reach_the_scored_tokens) {
    const std::string out = tmp_dir() + "/explain-system";
    auto explain = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = {"explain", "--out", out, "--answer", "a red circle", "-q", "-D", "4",
                                         "--search", "lazy", "--max-regions", "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        const run_result r = run_eagle(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(read_file(out + "/explanation.json"));
    };
    const auto plain = explain({});
    const auto system = explain({"--system", "be brief"});
    const auto none = explain({"--system", ""});
    EXPECT_EQ(plain["run"]["chat_template"], "llama.cpp");
    EXPECT_EQ(plain["run"]["system"], "");
    EXPECT_EQ(system["run"]["system"], "be brief");
    const auto & plain_parts = plain["scored_tokens"]["prompt"];
    const auto & system_parts = system["scored_tokens"]["prompt"];
    ASSERT_EQ(plain_parts.size(), 3u) << plain_parts; // text, image, text
    ASSERT_EQ(system_parts.size(), 3u) << system_parts;
    const auto before = plain_parts[0]["text"].get<std::vector<int32_t>>();
    const auto system_before = system_parts[0]["text"].get<std::vector<int32_t>>();
    ASSERT_GE(before.size(), 2u);
    ASSERT_GT(system_before.size(), before.size());
    EXPECT_EQ(system_before.front(), before.front()); // BOS
    EXPECT_TRUE(std::equal(before.begin() + 1, before.end(), system_before.end() - std::ptrdiff_t(before.size() - 1)))
        << "the user turn ends the text before the image";
    EXPECT_EQ(system_parts[1], plain_parts[1]);
    EXPECT_EQ(system_parts[2], plain_parts[2]);
    EXPECT_EQ(none["scored_tokens"], plain["scored_tokens"]);
    expect_clean_error(run_eagle({"explain", "--out", out, "--chat-template", "qwen25"}), 1, "'qwen25'");
}
