// The server engine (src/backends/server):
//   * llama-server's API as pure functions: grammar, request bodies, response parsing, request groups,
//     server checks (no server needed);
//   * real llama-server processes on 127.0.0.1 serving the default ShapesWorld model: the model's tokenizer,
//     template and generation, every masked image's probabilities and whole explanations equal the in-process
//     llama.cpp engine's, with one and two servers; a server killed mid-run loses nothing; every failure is one
//     clear error. Skipped where the build found no llama-server.
#include "server/server-api.h"
#include "server/server-session.h"

#include "llama-server-process.h"
#include "llama/llama-runtime.h"
#include "server-test-util.h"

#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

namespace {

using namespace eagle::server_backend;
using eagle_test::error_of;
using eagle_test::max_abs_diff;
using eagle_test::random_masks;
using eagle_test::scores;

const std::string k_models = EAGLE_TEST_MODELS_DIR;
const std::string k_model = k_models + "/shapesworld-model.gguf";
const std::string k_mmproj = k_models + "/shapesworld-mmproj.gguf";
const std::string k_image = std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapesworld/000002.png";

// The servers run as the llama engine does (-fa off, f32 KV cache; the engine's vision encoder without flash
// attention too). What remains, measured on the default model (llama.cpp 0.7.0, CPU): llama-server sums its
// softmax in float from the largest term, so tail terms below half an ulp of the sum are lost and a probability
// near 1 comes out up to ~2e-5 high (bound: n_vocab x 2^-24 relative). Decoding the answer token by token (the
// server) or all at once (the engine) gives bit-identical logits.
constexpr float k_tol = 1e-4f;

// ---------------------------------------------------------------------------------------------- pure API

TEST(server_api, grammar_forces_token_ids) {
    const std::vector<int32_t> ids = {264, 383, 457};
    EXPECT_EQ(token_grammar(ids), "root ::= <[264]> <[383]> <[457]>");
    EXPECT_EQ(token_grammar({}), "root ::= \"\"");
}

TEST(server_api, forced_completion_body_has_the_verified_fields) {
    const std::vector<int32_t> ids = {264, 383};
    const json body = forced_completion_body("<|im_start|>user\n<M>\nhi", "QUJD", ids, 3);
    EXPECT_EQ(body["prompt"]["prompt_string"], "<|im_start|>user\n<M>\nhi");
    EXPECT_EQ(body["prompt"]["multimodal_data"], json::array({"QUJD"}));
    EXPECT_EQ(body["grammar"], "root ::= <[264]> <[383]>");
    EXPECT_EQ(body["temperature"], 0.0);
    EXPECT_EQ(body["n_predict"], 3);
    EXPECT_EQ(body["n_probs"], 1);
    EXPECT_EQ(body["post_sampling_probs"], false);
}

// a /completion response of llama-server 0.7.0 (b11669-Debian), trimmed to the fields eagle reads
const char * k_response = R"({"index":0,"content":"a red","tokens":[],"id_slot":0,"stop":true,
  "completion_probabilities":[
    {"id":264,"token":"a","bytes":[97],"logprob":0.0,"top_logprobs":[{"id":264,"token":"a","bytes":[97],"logprob":0.0}]},
    {"id":383,"token":" red","bytes":[32,114,101,100],"logprob":-12.95,"top_logprobs":[{"id":447,"token":" yellow","bytes":[],"logprob":-0.01}]},
    {"id":2,"token":"","bytes":[],"logprob":-3.0,"top_logprobs":[{"id":2,"token":"","bytes":[],"logprob":-3.0},{"id":260,"token":"","bytes":[],"logprob":-0.05}]}],
  "stop_type":"eos"})";

TEST(server_api, parses_completion_probabilities) {
    const completion_result r = parse_completion(json::parse(k_response));
    EXPECT_EQ(r.content, "a red");
    EXPECT_EQ(r.stop_type, "eos");
    ASSERT_EQ(r.tokens.size(), 3u);
    EXPECT_EQ(r.tokens[1].id, 383);
    EXPECT_DOUBLE_EQ(r.tokens[1].logprob, -12.95);
    ASSERT_EQ(r.tokens[1].top.size(), 1u);
    EXPECT_EQ(r.tokens[1].top[0].first, 447);
    EXPECT_NE(error_of([] { parse_completion(json::parse(R"({"content":"x"})")); }).find("completion_probabilities"),
              std::string::npos);
}

TEST(server_api, reads_groups_and_rejects_what_was_not_forced) {
    const completion_result r = parse_completion(json::parse(k_response));
    request_group g;
    g.forced = {264, 383};
    g.n_predict = 3;
    g.outputs = {{0, 1, 383}, {1, 2, 260}}; // the eog position: ours (260) is not the sampled one (2) but in its top
    std::vector<float> probs(2);
    read_group(g, r, "http://x:1", probs);
    EXPECT_FLOAT_EQ(probs[0], float(std::exp(-12.95)));
    EXPECT_FLOAT_EQ(probs[1], float(std::exp(-0.05)));

    g.outputs = {{0, 2, 7}}; // neither sampled nor among the top: one clear error
    eagle::errc code{};
    EXPECT_NE(error_of([&] { read_group(g, r, "http://x:1", probs); }, &code).find("end-of-generation token 2"), std::string::npos);
    EXPECT_EQ(code, eagle::errc::unsupported);
    g.forced = {264, 999}; // the server generated something else than the grammar forced
    EXPECT_NE(error_of([&] { read_group(g, r, "http://x:1", probs); }).find("where the grammar forced 999"), std::string::npos);
    g.forced = {264, 383};
    g.n_predict = 5;
    EXPECT_NE(error_of([&] { read_group(g, r, "http://x:1", probs); }).find("generated 3 tokens where 5"), std::string::npos);
}

TEST(server_api, groups_share_one_request_for_the_answer_own_tokens) {
    eagle::model_params mp;
    mp.engine = "mock";
    const auto mock = eagle::load_vlm(mp);
    const int32_t eog = mock->eog_token();
    const std::vector<int32_t> answer = {5, 6, 7, eog};
    // every token as itself: one request, the eog sampled after the forced three
    std::vector<request_group> g = make_groups(answer, std::vector<int32_t>{0, 1, 2, 3}, std::vector<int32_t>{5, 6, 7, eog}, *mock);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].forced, (std::vector<int32_t>{5, 6, 7}));
    EXPECT_EQ(g[0].n_predict, 4);
    EXPECT_EQ(g[0].outputs.size(), 4u);
    // targets 0..1 only: the answer forced up to the last of them
    g = make_groups(answer, std::vector<int32_t>{0, 1}, std::vector<int32_t>{5, 6}, *mock);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].forced, (std::vector<int32_t>{5, 6}));
    EXPECT_EQ(g[0].n_predict, 2);
    // position 1 scored as another token: a request of its own, forcing that token after answer[0]
    g = make_groups(answer, std::vector<int32_t>{0, 1}, std::vector<int32_t>{5, 9}, *mock);
    ASSERT_EQ(g.size(), 2u);
    EXPECT_EQ(g[1].forced, (std::vector<int32_t>{5, 9}));
    EXPECT_EQ(g[1].outputs[0].i_target, 1);
    // an eog before the answer's end cannot be forced
    const std::vector<int32_t> bad = {5, eog, 7};
    eagle::errc code{};
    EXPECT_NE(error_of([&] { make_groups(bad, std::vector<int32_t>{2}, std::vector<int32_t>{7}, *mock); }, &code).find("before its end"),
              std::string::npos);
    EXPECT_EQ(code, eagle::errc::unsupported);
}

TEST(server_api, checks_what_a_server_says_about_itself) {
    json props = {{"default_generation_settings", {{"n_ctx", 256}}}, {"total_slots", 2}, {"model_path", "/m/a.gguf"},
                  {"build_info", "b11669-Debian"}, {"modalities", {{"vision", true}}}, {"media_marker", "<M>"},
                  {"chat_template", "t"}};
    const json models = {{"data", json::array({{{"id", "/m/a.gguf"}, {"meta", {{"n_vocab", 459}, {"n_ctx_train", 256},
                                                                                {"n_params", 10}, {"size", 40}}}}})}};
    const server_info info = parse_server_info("http://h:1", props, models);
    EXPECT_EQ(info.n_slots, 2);
    EXPECT_EQ(info.n_vocab, 459);
    EXPECT_EQ(info.media_marker, "<M>");
    server_info other = info;
    other.url = "http://h:2";
    other.model_path = "/m/b.gguf";
    eagle::errc code{};
    EXPECT_NE(error_of([&] { check_same_model(info, other); }, &code).find("serves 'b.gguf'"), std::string::npos);
    EXPECT_EQ(code, eagle::errc::model);

    props["modalities"]["vision"] = false;
    EXPECT_NE(error_of([&] { parse_server_info("http://h:1", props, models); }, &code).find("without a vision projector"),
              std::string::npos);
    EXPECT_EQ(code, eagle::errc::unsupported);
    EXPECT_NE(error_of([&] { parse_server_info("http://h:1", json::object(), models); }).find("not llama-server's"),
              std::string::npos);
}

TEST(server_api, base64_and_urls) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
    EXPECT_EQ(normalize_url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    for (const char * bad : {"127.0.0.1:8080", "http://h:1/completion", "ftp://h:1", "http://"}) {
        EXPECT_NE(error_of([&] { normalize_url(bad); }).find(bad), std::string::npos) << bad;
    }
    // the same server named twice (or with a trailing '/') is used once, in the order given
    EXPECT_EQ(unique_urls({"http://b:2", "http://a:1/", "http://b:2/", "http://a:1"}),
              (std::vector<std::string>{"http://b:2", "http://a:1"}));
    EXPECT_NE(error_of([&] { unique_urls({"http://a:1", "a:2"}); }).find("'a:2'"), std::string::npos);
}

// ------------------------------------------------------------------------------------ real llama-servers

class live_server : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!eagle_test::have_llama_server()) {
            return;
        }
        std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
        a_ = std::make_unique<eagle_test::llama_server_process>(k_model, k_mmproj, 2, std::string(EAGLE_TEST_TMP_DIR) + "/server-a.log");
        b_ = std::make_unique<eagle_test::llama_server_process>(k_model, k_mmproj, 2, std::string(EAGLE_TEST_TMP_DIR) + "/server-b.log");
        eagle::model_params p;
        p.model_path = k_model;
        p.mmproj_path = k_mmproj;
        // ggml's own kernels, as llama-server's own vision encoder runs: with BLAS (on by default with OpenBLAS-OpenMP)
        // probabilities move by up to ~1e-3 here, more than these parity tests allow
        p.blas = "off";
        local_ = eagle::load_vlm(p);
    }
    static void TearDownTestSuite() {
        a_.reset(); // kills the servers
        b_.reset();
        local_.reset();
    }
    void SetUp() override {
        if (!eagle_test::have_llama_server()) {
            GTEST_SKIP() << "this build found no llama-server";
        }
    }
    static std::unique_ptr<eagle::vlm_model> server_model(const std::vector<std::string> & urls) {
        eagle::model_params p;
        p.engine = "server";
        p.servers = urls;
        return eagle::load_vlm(p);
    }
    static eagle::score_request request() {
        eagle::score_request r;
        r.image = eagle::load_image(k_image);
        r.prompt = "describe the image";
        r.answer = local_->tokenize("a yellow triangle , a green square and a red circle .", false);
        r.answer.push_back(local_->eog_token());
        return r;
    }
    static inline std::unique_ptr<eagle_test::llama_server_process> a_, b_;
    static inline std::unique_ptr<eagle::vlm_model> local_;
};

// --chat-template and --system render the same text on both engines (up to each engine's media marker): the
// llama.cpp table with a system turn, a forced family whose BOS text the server's tokenizer adds itself (Pixtral's
// "<s>"), and one without a system turn
TEST_F(live_server, chat_templates_render_as_in_process) {
    struct render_case {
        std::string family;
        std::optional<std::string> system;
    };
    const render_case cases[] = {{"llama.cpp", "be brief"}, {"pixtral", std::nullopt}, {"qwen2.5-vl", ""}};
    for (const render_case & c : cases) {
        eagle::model_params sp;
        sp.engine = "server";
        sp.servers = {a_->url()};
        sp.chat_template = c.family;
        sp.system_prompt = c.system;
        eagle::model_params lp = local_->params();
        lp.chat_template = c.family;
        lp.system_prompt = c.system;
        const auto served = eagle::load_vlm(sp);
        const auto local = eagle::load_vlm(lp);
        EXPECT_EQ(served->chat_format(), local->chat_format()) << c.family;
        const std::string p = served->format_prompt("describe the image", false);
        const std::string l = local->format_prompt("describe the image", false);
        EXPECT_EQ(p.substr(0, p.find("<__media")), l.substr(0, l.find("<__media"))) << c.family;
        EXPECT_EQ(p.substr(p.find("__>") + 3), l.substr(l.find("__>") + 3)) << c.family;
    }
}

TEST_F(live_server, model_is_the_in_process_one) {
    const auto served = server_model({a_->url()});
    EXPECT_EQ(served->n_vocab(), local_->n_vocab());
    EXPECT_EQ(served->n_ctx_train(), local_->n_ctx_train());
    EXPECT_EQ(served->eog_token(), local_->eog_token());
    for (int32_t id = 0; id < local_->n_vocab(); ++id) {
        ASSERT_EQ(served->is_eog(id), local_->is_eog(id)) << id;
    }
    const std::string text = "a yellow triangle , a green square and a red circle .";
    const std::vector<int32_t> ids = local_->tokenize(text, false);
    EXPECT_EQ(served->tokenize(text, false), ids);
    EXPECT_EQ(served->tokenize("<|im_end|>", false, true), local_->tokenize("<|im_end|>", false, true));
    std::vector<int32_t> with_eog = ids;
    with_eog.push_back(local_->eog_token());
    EXPECT_EQ(served->detokenize(with_eog), local_->detokenize(with_eog));
    for (int32_t id : with_eog) {
        EXPECT_EQ(served->token_piece(id), local_->token_piece(id)) << id;
    }
    // the same prompt, up to each engine's media marker
    std::string p = served->format_prompt("describe the image", false);
    std::string l = local_->format_prompt("describe the image", false);
    EXPECT_EQ(p.substr(0, p.find("<__media")), l.substr(0, l.find("<__media")));
    EXPECT_EQ(p.substr(p.find("__>") + 3), l.substr(l.find("__>") + 3));
    EXPECT_EQ(served->params().model_path, k_model);
    EXPECT_NE(served->engine_version().find("llama-server"), std::string::npos);

    // greedy generation
    eagle::generate_request g{eagle::load_image(k_image), "describe the image", false, 32};
    const eagle::generation gs = served->new_session({})->generate(g);
    const eagle::generation gl = local_->new_session({})->generate(g);
    EXPECT_EQ(gs.text, gl.text);
    ASSERT_EQ(gs.tokens.size(), gl.tokens.size());
    for (size_t i = 0; i < gs.tokens.size(); ++i) {
        EXPECT_EQ(gs.tokens[i].id, gl.tokens[i].id);
        EXPECT_EQ(gs.tokens[i].is_eog, gl.tokens[i].is_eog);
        EXPECT_NEAR(gs.tokens[i].prob, gl.tokens[i].prob, k_tol);
    }
}

TEST_F(live_server, probabilities_equal_in_process_with_one_and_two_servers) {
    eagle::score_request r = request();
    const std::vector<eagle::mask> masks = random_masks(r.image, 12, 7);
    const std::vector<float> expected = scores(*local_, r, masks);
    eagle::scorer_stats stats;
    const auto one = server_model({a_->url()});
    EXPECT_LE(max_abs_diff(scores(*one, r, masks, &stats), expected), k_tol);
    EXPECT_EQ(stats.n_evaluations, 12);
    EXPECT_EQ(stats.engine_value("n_http_requests"), 12); // one request per masked image
    const auto two = server_model({a_->url(), b_->url()});
    EXPECT_LE(max_abs_diff(scores(*two, r, masks, &stats), expected), k_tol);
    EXPECT_EQ(stats.engine_value("n_servers_live"), 2);

    // a target scored as another token than the answer's (--target-text): its own request per mask
    r.target_indices = {1, 3};
    r.target_ids = {local_->tokenize(" red", false).at(0), r.answer[3]};
    EXPECT_LE(max_abs_diff(scores(*two, r, masks, &stats), scores(*local_, r, masks)), k_tol);
    EXPECT_EQ(stats.engine_value("n_http_requests"), 24);
}

TEST_F(live_server, explanations_equal_in_process_with_one_and_two_servers) {
    eagle::explanation_request rq;
    rq.image_path = k_image;
    rq.prompt = "describe the image";
    rq.regions.kind = eagle::region_kind::grid;
    rq.regions.n_cols = 4;
    rq.regions.n_rows = 4;
    const auto local_session = local_->new_session({});
    const eagle::explanation_record expected = eagle::run_explanation(*local_, *local_session, rq);
    for (const std::vector<std::string> & urls : {std::vector<std::string>{a_->url()}, std::vector<std::string>{a_->url(), b_->url()}}) {
        const auto served = server_model(urls);
        const auto session = served->new_session({});
        const eagle::explanation_record got = eagle::run_explanation(*served, *session, rq);
        EXPECT_EQ(got.answer, expected.answer);
        EXPECT_EQ(got.answer_text, expected.answer_text);
        EXPECT_EQ(got.result.order, expected.result.order) << urls.size() << " servers";
        EXPECT_LE(max_abs_diff(got.result.insertion_score, expected.result.insertion_score), k_tol);
        EXPECT_LE(max_abs_diff(got.result.deletion_score, expected.result.deletion_score), k_tol);
        EXPECT_LE(max_abs_diff(got.result.region_value, expected.result.region_value), k_tol);
        EXPECT_EQ(got.result.n_evaluations, expected.result.n_evaluations);
        // the run record names the engine and the servers used
        const nlohmann::ordered_json run = eagle::to_json(got)["run"];
        EXPECT_EQ(run["engine"], "server");
        EXPECT_EQ(run["servers"].get<std::vector<std::string>>(), urls);
        EXPECT_EQ(run["rpc"].size(), 0u);
    }
}

TEST_F(live_server, a_server_killed_mid_run_loses_nothing) {
    eagle_test::llama_server_process c(k_model, k_mmproj, 2, std::string(EAGLE_TEST_TMP_DIR) + "/server-c.log");
    const auto served = server_model({a_->url(), c.url()});
    const eagle::score_request r = request();
    const std::vector<eagle::mask> masks = random_masks(r.image, 48, 11);
    const std::vector<float> expected = scores(*local_, r, masks);
    eagle::scorer_stats stats;
    std::vector<float> got;
    {
        std::thread killer([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            c.kill();
        });
        try {
            got = scores(*served, r, masks, &stats);
        } catch (...) {
            killer.join();
            throw;
        }
        killer.join();
    }
    EXPECT_EQ(stats.engine_value("n_servers_dropped"), 1) << "the kill came after the run: make it longer";
    EXPECT_EQ(stats.engine_value("n_servers_live"), 1);
    EXPECT_LE(max_abs_diff(got, expected), k_tol);

    // every server gone mid-run: one clear error
    eagle_test::llama_server_process d(k_model, k_mmproj, 1, std::string(EAGLE_TEST_TMP_DIR) + "/server-d.log");
    const auto lone = server_model({d.url()});
    d.kill();
    eagle::errc code{};
    const std::string e = error_of([&] { scores(*lone, r, masks); }, &code);
    EXPECT_NE(e.find("every llama-server stopped answering"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::io);
}

TEST_F(live_server, failures_are_one_clear_error) {
    eagle::errc code{};
    const std::string nobody = "http://127.0.0.1:" + std::to_string(eagle_test::free_port());
    std::string e = error_of([&] { server_model({nobody}); }, &code);
    EXPECT_NE(e.find("does not answer"), std::string::npos) << e;
    EXPECT_NE(e.find(nobody), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::io);

    // a dead server among live ones is dropped with a warning, the others serve
    EXPECT_NE(server_model({nobody, a_->url()})->description().find("on 1 llama-server ("), std::string::npos);

    // --model names another file than the one served
    eagle::model_params p;
    p.engine = "server";
    p.servers = {a_->url()};
    p.model_path = "/models/other.gguf";
    e = error_of([&] { eagle::load_vlm(p); }, &code);
    EXPECT_NE(e.find("serves 'shapesworld-model.gguf', not 'other.gguf'"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::model);

    // no vision projector
    {
        eagle_test::llama_server_process blind(k_model, "", 1, std::string(EAGLE_TEST_TMP_DIR) + "/server-blind.log");
        e = error_of([&] { server_model({blind.url()}); }, &code);
        EXPECT_NE(e.find("without a vision projector; start it with --mmproj"), std::string::npos) << e;
        EXPECT_EQ(code, eagle::errc::unsupported);
    }
    // two servers running different models
    {
        const std::string fixture = EAGLE_TEST_FIXTURE_DIR;
        eagle_test::llama_server_process other(fixture + "/fixture-model.gguf", fixture + "/fixture-mmproj.gguf", 1,
                                               std::string(EAGLE_TEST_TMP_DIR) + "/server-other.log");
        e = error_of([&] { server_model({a_->url(), other.url()}); }, &code);
        EXPECT_NE(e.find("every --server must run the same model"), std::string::npos) << e;
        EXPECT_EQ(code, eagle::errc::model);
    }
    // a bad URL
    e = error_of([&] { server_model({"localhost:8080"}); }, &code);
    EXPECT_NE(e.find("is not http://host:port"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::invalid_argument);
}

// ------------------------------------------------------------------------------------ ggml RPC (--rpc)

// The model's layers on a ggml-rpc-server (its CPU device) give the in-process probabilities exactly: the same
// ggml CPU kernels run the same graph, only in another process. The server's log proves the layers went there.
TEST(rpc, probabilities_equal_in_process_with_the_layers_on_an_rpc_server) {
    if (!eagle_test::have_rpc_server()) {
        GTEST_SKIP() << "this build found no ggml-rpc-server";
    }
    // The rpc-server runs ggml's own pick of CPU variant, and eagle may pick another for ShapesWorld's 32-float
    // heads (llama-runtime.h), which rounds differently: the same kernels on both sides need ggml's pick here too.
    // The first model a process loads fixes its variant, so this holds when the test runs alone (as ctest runs
    // it); after another test's model the two sides may differ in the last bit only.
    const bool same_kernels = eagle::llama_backend::loaded_cpu_variant().empty();
    setenv("EAGLE_GGML_CPU_VARIANT", "ggml", 1);
    struct unset_at_exit {
        ~unset_at_exit() { unsetenv("EAGLE_GGML_CPU_VARIANT"); }
    } unset_variant; // also when an assertion returns early
    std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
    const std::string log_path = std::string(EAGLE_TEST_TMP_DIR) + "/rpc-server.log";
    eagle_test::rpc_server_process rpc(log_path);
    eagle::model_params p;
    p.model_path = k_model;
    p.mmproj_path = k_mmproj;
    p.blas = "off"; // ggml's own kernels on both sides (BLAS rounds by batch shape)
    const auto local = eagle::load_vlm(p);
    p.rpc_servers = {rpc.endpoint()};
    const auto split = eagle::load_vlm(p);
    EXPECT_NE(split->description().find("layers on RPC servers " + rpc.endpoint()), std::string::npos) << split->description();

    eagle::score_request r;
    r.image = eagle::load_image(k_image);
    r.prompt = "describe the image";
    r.answer = local->tokenize("a yellow triangle , a green square and a red circle .", false);
    r.answer.push_back(local->eog_token());
    eagle::region_params rp;
    rp.kind = eagle::region_kind::grid;
    rp.n_cols = 4;
    rp.n_rows = 4;
    const eagle::region_set regions = eagle::make_regions(r.image, rp);
    std::mt19937 rng(5);
    std::vector<eagle::mask> masks;
    for (int i = 0; i < 8; ++i) {
        eagle::mask m = eagle::mask::empty(r.image.nx, r.image.ny);
        for (int32_t px = 0; px < r.image.nx * r.image.ny; ++px) {
            m.keep[px] = (rng() >> (regions.labels[px] % 16)) & 1;
        }
        masks.push_back(std::move(m));
    }
    auto score = [&](const eagle::vlm_model & model) {
        eagle::session_params sp;
        sp.use_memo = false;
        auto session = model.new_session(sp);
        session->prepare(r);
        std::vector<float> probs(masks.size() * session->n_targets());
        session->score(masks, probs);
        return probs;
    };
    const std::vector<float> expected = score(*local);
    const std::vector<float> got = score(*split);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
        if (same_kernels) {
            EXPECT_EQ(got[i], expected[i]) << i; // bit-identical, measured
        } else {
            EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
        }
    }
    std::ifstream log(log_path);
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("Accepted client connection"), std::string::npos) << "the model never used the RPC server";

    // unreachable, and not host:port: one clear error each
    eagle::errc code{};
    p.rpc_servers = {"127.0.0.1:" + std::to_string(eagle_test::free_port())};
    std::string e = error_of([&] { eagle::load_vlm(p); }, &code);
    EXPECT_NE(e.find("ggml RPC server at " + p.rpc_servers[0] + " does not answer"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::io);
    p.rpc_servers = {"localhost"};
    e = error_of([&] { eagle::load_vlm(p); }, &code);
    EXPECT_NE(e.find("'localhost' is not host:port"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::invalid_argument);
}

} // namespace
