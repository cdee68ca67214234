// The llama.cpp scoring engine on the fixture model (random-weight LLaVA-style GGUF pair), through the real
// libllama + libmtmd path: batching, the shared prefix and the memo must not change a single probability.
#include "eagle/backends.h"
#include "eagle/eagle.h"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace {

const std::string k_prompt = "describe the image";

class scorer_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        eagle::model_params params;
        params.model_path  = std::string(EAGLE_TEST_FIXTURE_DIR) + "/fixture-model.gguf";
        params.mmproj_path = std::string(EAGLE_TEST_FIXTURE_DIR) + "/fixture-mmproj.gguf";
        params.blas = "off"; // the plain path, whatever libblas.so.3 this machine selects
        model_ = eagle::load_vlm(params);
        image_ = eagle::load_image(std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapes-1.png");
        const auto session_ptr = model_->new_session({});
        eagle::vlm_session & session = *session_ptr;
        answer_ = session.generate({image_, k_prompt, false, 8});
        ASSERT_FALSE(answer_.tokens.empty());
    }
    static void TearDownTestSuite() { model_.reset(); }

    static std::vector<int32_t> answer_ids() {
        std::vector<int32_t> ids;
        for (const auto & token : answer_.tokens) {
            ids.push_back(token.id);
        }
        return ids;
    }

    static eagle::score_request request() {
        eagle::score_request req;
        req.image  = image_;
        req.prompt = k_prompt;
        req.answer = answer_ids();
        return req;
    }

    // a deterministic family of masks: the left k/8 of the image, a checkerboard, a centre box...
    static std::vector<eagle::mask> some_masks(int n) {
        std::vector<eagle::mask> masks;
        for (int i = 0; i < n; ++i) {
            eagle::mask m = eagle::mask::empty(image_.nx, image_.ny);
            for (int y = 0; y < image_.ny; ++y) {
                for (int x = 0; x < image_.nx; ++x) {
                    const int cell = (x / 16) + 8 * (y / 16);
                    m.keep[size_t(y) * image_.nx + x] = ((cell * 7 + i * 13) % 5) < (i % 4) + 1;
                }
            }
            masks.push_back(std::move(m));
        }
        return masks;
    }

    static std::vector<float> score(eagle::vlm_session & session, const std::vector<eagle::mask> & masks) {
        std::vector<float> probs(masks.size() * session.n_targets());
        session.score(masks, probs);
        return probs;
    }

    static inline std::unique_ptr<eagle::vlm_model> model_;
    static inline eagle::image_rgb8 image_;
    static inline eagle::generation answer_;
};

void expect_near_all(const std::vector<float> & a, const std::vector<float> & b, float tolerance) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_NEAR(a[i], b[i], tolerance) << "value " << i;
    }
}

TEST_F(scorer_test, generation_is_deterministic_and_probabilities_are_probabilities) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    const eagle::generation again = session.generate({image_, k_prompt, false, 8});
    ASSERT_EQ(again.tokens.size(), answer_.tokens.size());
    for (size_t i = 0; i < again.tokens.size(); ++i) {
        EXPECT_EQ(again.tokens[i].id, answer_.tokens[i].id);
        EXPECT_GT(again.tokens[i].prob, 0.0f);
        EXPECT_LE(again.tokens[i].prob, 1.0f);
    }
}

TEST_F(scorer_test, batched_scores_equal_one_at_a_time) {
    const std::vector<eagle::mask> masks = some_masks(11);
    eagle::session_params batched;
    batched.n_seq = 4; // 11 masks: groups of 4, 4, 3
    const auto session_batched_ptr = model_->new_session(batched);
    eagle::vlm_session & session_batched = *session_batched_ptr;
    session_batched.prepare(request());
    const std::vector<float> probs_batched = score(session_batched, masks);

    eagle::session_params single;
    single.n_seq = 1;
    const auto session_single_ptr = model_->new_session(single);
    eagle::vlm_session & session_single = *session_single_ptr;
    session_single.prepare(request());
    std::vector<float> probs_single;
    for (const auto & m : masks) {
        const std::vector<float> p = score(session_single, {m});
        probs_single.insert(probs_single.end(), p.begin(), p.end());
    }
    expect_near_all(probs_batched, probs_single, 1e-4f);
    EXPECT_EQ(session_batched.stats().n_evaluations, 11);
    EXPECT_EQ(session_single.stats().n_evaluations, 11);
}

TEST_F(scorer_test, shared_prefix_equals_prefix_from_scratch) {
    const std::vector<eagle::mask> masks = some_masks(6);
    eagle::session_params shared, scratch;
    shared.n_seq = scratch.n_seq = 3;
    scratch.share_prefix = false;
    const auto a_ptr = model_->new_session(shared);
    eagle::vlm_session & a = *a_ptr;
    const auto b_ptr = model_->new_session(scratch);
    eagle::vlm_session & b = *b_ptr;
    a.prepare(request());
    b.prepare(request());
    expect_near_all(score(a, masks), score(b, masks), 1e-4f);
}

TEST_F(scorer_test, unified_kv_cache_equals_per_sequence_streams) {
    const std::vector<eagle::mask> masks = some_masks(5);
    eagle::session_params unified, streams;
    unified.n_seq = streams.n_seq = 4;
    unified.use_unified_kv = true;
    const auto a_ptr = model_->new_session(unified);
    eagle::vlm_session & a = *a_ptr;
    const auto b_ptr = model_->new_session(streams);
    eagle::vlm_session & b = *b_ptr;
    a.prepare(request());
    b.prepare(request());
    expect_near_all(score(a, masks), score(b, masks), 1e-4f);
}

// f16 rounds every K/V value (~1e-3 relative): the scores move (so the setting reaches llama.cpp), but
// only by that much; f32 is the default
TEST_F(scorer_test, f16_kv_cache_moves_scores_only_by_its_rounding) {
    const std::vector<eagle::mask> masks = some_masks(5);
    eagle::session_params f32, f16;
    f16.use_f32_kv = false;
    ASSERT_TRUE(f32.use_f32_kv);
    const auto a_ptr = model_->new_session(f32);
    const auto b_ptr = model_->new_session(f16);
    a_ptr->prepare(request());
    b_ptr->prepare(request());
    const std::vector<float> a = score(*a_ptr, masks), b = score(*b_ptr, masks);
    ASSERT_EQ(a.size(), b.size());
    float max_diff = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
        max_diff = std::max(max_diff, std::fabs(a[i] - b[i]));
    }
    EXPECT_GT(max_diff, 0.0f);
    EXPECT_LT(max_diff, 2e-2f);
}

// ggml's BLAS backend (OpenBLAS) computes the large products in another order: equal within float rounding.
// Each test runs in its own process, and BLAS, once loaded, serves every later context of the process, so
// the default path is scored first.
TEST_F(scorer_test, blas_scores_equal_the_default_path) {
    const std::vector<eagle::mask> masks = some_masks(6);
    const auto plain_ptr = model_->new_session({});
    plain_ptr->prepare(request());
    const std::vector<float> plain = score(*plain_ptr, masks);

    eagle::model_params params = model_->params();
    params.blas = "on";
    const std::unique_ptr<eagle::vlm_model> blas_model = eagle::load_vlm(params);
    const auto blas_ptr = blas_model->new_session({});
    blas_ptr->prepare(request());
    expect_near_all(score(*blas_ptr, masks), plain, 1e-5f);
}

// "auto" turns BLAS on exactly when libblas.so.3 is OpenBLAS on OpenMP (asked of the library here, independently
// of the engine); "on" and "off" are obeyed; any other word is refused before a file is read.
TEST_F(scorer_test, blas_choice_resolves_as_documented) {
    bool is_openblas_openmp = false;
    if (void * blas = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL)) {
        using get_parallel_fn = int (*)();
        const auto get_parallel = reinterpret_cast<get_parallel_fn>(dlsym(blas, "openblas_get_parallel"));
        is_openblas_openmp = get_parallel != nullptr && get_parallel() == 2;
        dlclose(blas);
    }
    eagle::model_params params = model_->params();
    EXPECT_FALSE(model_->uses_blas()); // the suite's model: "off"
    params.blas = "auto";
    EXPECT_EQ(eagle::load_vlm(params)->uses_blas(), is_openblas_openmp);
    params.blas = "on";
    EXPECT_TRUE(eagle::load_vlm(params)->uses_blas());
    params.blas = "yes";
    params.model_path = "no-such-model.gguf";
    try {
        eagle::load_vlm(params);
        FAIL() << "blas 'yes' was accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("'yes'"), std::string::npos) << e.what();
    }
}

// Workers (model_params::n_workers) split a batch's masks between single-thread llama.cpp contexts, each with
// its own libmtmd context: without BLAS every probability is what one session gives (a worker runs the same
// computation), for a batch split evenly, unevenly, or not at all (one mask: worker 0 alone on all threads).
TEST_F(scorer_test, workers_score_as_one_session) {
    const std::vector<eagle::mask> masks = some_masks(7);
    const auto plain_ptr = model_->new_session({});
    plain_ptr->prepare(request());
    const std::vector<float> plain = score(*plain_ptr, masks);

    eagle::model_params params = model_->params();
    params.n_threads = 2;
    params.n_workers = 2;
    const std::unique_ptr<eagle::vlm_model> workers_model = eagle::load_vlm(params);
    ASSERT_EQ(workers_model->n_workers(), 2);
    eagle::session_params sp;
    sp.n_seq     = 4;     // 7 masks: 4 + 3, in groups of 2 (each worker's KV holds half the batch)
    sp.use_memo  = false; // count the engine's evaluations
    const auto workers_ptr = workers_model->new_session(sp);
    workers_ptr->prepare(request());
    expect_near_all(score(*workers_ptr, masks), plain, 1e-6f);
    const size_t n_targets = size_t(workers_ptr->n_targets());
    for (const size_t n : {size_t(1), size_t(2)}) {
        const std::vector<eagle::mask> first(masks.begin(), masks.begin() + long(n));
        expect_near_all(score(*workers_ptr, first), std::vector<float>(plain.begin(), plain.begin() + long(n * n_targets)), 1e-6f);
    }
    const eagle::scorer_stats stats = workers_ptr->stats();
    EXPECT_EQ(stats.n_evaluations, 7 + 1 + 2);
    EXPECT_EQ(stats.engine_value("n_workers"), 2);
    EXPECT_EQ(plain_ptr->stats().engine_value("n_workers"), 1);
    EXPECT_EQ(stats.engine_value("n_encode_calls"), 10); // one image per mask, each encoded by one worker
    EXPECT_GT(stats.t_score_us, 0);

    // a worker's error leaves the team as the session's own
    std::vector<float> probs(2 * n_targets);
    const std::vector<eagle::mask> wrong = {masks.front(), eagle::mask::full(image_.nx + 1, image_.ny)};
    try {
        workers_ptr->score(wrong, probs);
        FAIL() << "a mask of the wrong size was scored";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find(std::to_string(image_.nx + 1)), std::string::npos) << e.what();
    }
    expect_near_all(score(*workers_ptr, masks), plain, 1e-6f); // and the session still scores
}

// The CPUs each thread of this process may run on ("Cpus_allowed_list" of /proc/self/task/*/status), by thread id.
std::map<std::string, std::string> threads_cpus() {
    std::map<std::string, std::string> out;
    for (const auto & task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream status(task.path() / "status"); // a thread that has just exited is skipped
        for (std::string line; std::getline(status, line);) {
            if (line.rfind("Cpus_allowed_list:", 0) == 0) {
                out[task.path().filename().string()] = line;
            }
        }
    }
    return out;
}

// Workers bound to a CPU each while a batch is scored (model_params::pin_workers, the default) score what unbound
// workers score, and give the CPUs back: after the batch every thread of the process, the team's and any a worker
// started included, may run where it could before. Bound only where the process has a CPU per worker (and may set
// affinities); with BLAS on (where it is), the BLAS backend starts threads inside the bound window.
TEST_F(scorer_test, bound_workers_score_as_unbound_and_give_their_cpus_back) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        GTEST_SKIP() << "this process's CPU set does not fit a cpu_set_t";
    }
    const bool can_bind = CPU_COUNT(&allowed) >= 2 && pthread_setaffinity_np(pthread_self(), sizeof(allowed), &allowed) == 0;
    const std::vector<eagle::mask> masks = some_masks(5);
    for (const char * blas : {"off", "auto"}) {
        eagle::model_params params = model_->params();
        params.n_threads = 2;
        params.n_workers = 2;
        params.blas = blas;
        std::vector<float> scores[2];
        for (const bool pin : {false, true}) {
            params.pin_workers = pin;
            const std::unique_ptr<eagle::vlm_model> workers_model = eagle::load_vlm(params);
            if (std::string(blas) == "auto" && !workers_model->uses_blas()) {
                GTEST_SKIP() << "BLAS is off here (libblas.so.3 is not OpenBLAS on OpenMP): the unbound case ran";
            }
            const auto session = workers_model->new_session({});
            session->prepare(request());
            const std::map<std::string, std::string> before = threads_cpus();
            const std::string process_cpus = before.at(std::to_string(gettid()));
            scores[pin] = score(*session, masks);
            score(*session, {masks.front()}); // one mask: worker 0 alone, never bound
            EXPECT_EQ(session->stats().engine_value("n_bound_batches"), pin && can_bind ? 1 : 0) << blas << " pin " << pin;
            for (const auto & [tid, cpus] : threads_cpus()) {
                const auto was = before.find(tid);
                EXPECT_EQ(cpus, was != before.end() ? was->second : process_cpus) << blas << " pin " << pin << " thread " << tid;
            }
        }
        expect_near_all(scores[1], scores[0], 0.0f);
    }
}

// Auto gives one worker per thread for 2..4 threads on a CPU with BLAS on (the small fixture's text model is
// far under 1B parameters), else one; more workers than threads, fewer than 0, or several with GPU layers are
// refused naming the value.
TEST_F(scorer_test, workers_choice_resolves_as_documented) {
    EXPECT_EQ(model_->n_workers(), 1); // the suite runs on one thread (EAGLE_THREADS=1)
    eagle::model_params params = model_->params();
    params.n_threads = 2;
    EXPECT_EQ(eagle::load_vlm(params)->n_workers(), 1); // the suite's model: BLAS off
    params.n_workers = 2;
    EXPECT_EQ(eagle::load_vlm(params)->n_workers(), 2); // asked
    params.n_workers = 0;
    params.blas = "on";
    EXPECT_EQ(eagle::load_vlm(params)->n_workers(), 2);
    params.n_threads = 5;
    EXPECT_EQ(eagle::load_vlm(params)->n_workers(), 1);
    params.n_threads = 2;
    params.n_workers = 1;
    EXPECT_EQ(eagle::load_vlm(params)->n_workers(), 1);
    params.n_workers = 2;
    params.n_gpu_layers = -1;
    try {
        eagle::load_vlm(params);
        FAIL() << "2 workers with GPU layers were accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("--gpu-layers"), std::string::npos) << e.what();
    }
    params.n_gpu_layers = 0;
    for (const int32_t bad : {3, -1}) {
        params.n_workers = bad;
        try {
            eagle::load_vlm(params);
            FAIL() << "workers " << bad << " with 2 threads was accepted";
        } catch (const eagle::error & e) {
            EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
            EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
        }
    }
}

TEST_F(scorer_test, probabilities_lie_in_the_unit_interval) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    session.prepare(request());
    for (float p : score(session, some_masks(5))) {
        EXPECT_GE(p, 0.0f);
        EXPECT_LE(p, 1.0f);
    }
}

TEST_F(scorer_test, score_agrees_with_generate_on_the_unmasked_image) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    session.prepare(request());
    const std::vector<float> p = score(session, {eagle::mask::full(image_.nx, image_.ny)});
    ASSERT_EQ(p.size(), answer_.tokens.size());
    for (size_t t = 0; t < p.size(); ++t) {
        EXPECT_NEAR(p[t], answer_.tokens[t].prob, 1e-4f) << "token " << t;
    }
}

TEST_F(scorer_test, each_greedy_token_is_the_argmax_at_its_position) {
    // score every vocabulary entry at every position: the greedy token must be the most likely one
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    const std::vector<int32_t> ids = answer_ids();
    const eagle::mask full = eagle::mask::full(image_.nx, image_.ny);
    std::vector<float> best(ids.size(), -1.0f);
    std::vector<float> greedy(ids.size(), -1.0f);
    for (int32_t v = 0; v < model_->n_vocab(); ++v) {
        eagle::score_request req = request();
        req.target_ids.assign(ids.size(), v);
        session.prepare(req);
        const std::vector<float> p = score(session, {full});
        for (size_t t = 0; t < ids.size(); ++t) {
            best[t] = std::max(best[t], p[t]);
            if (v == ids[t]) {
                greedy[t] = p[t];
            }
        }
    }
    for (size_t t = 0; t < ids.size(); ++t) {
        EXPECT_FLOAT_EQ(greedy[t], best[t]) << "position " << t;
    }
}

TEST_F(scorer_test, masking_changes_scores) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    session.prepare(request());
    const std::vector<eagle::mask> masks = {eagle::mask::full(image_.nx, image_.ny), eagle::mask::empty(image_.nx, image_.ny)};
    const std::vector<float> p = score(session, masks);
    const size_t n = answer_.tokens.size();
    float max_diff = 0.0f;
    for (size_t t = 0; t < n; ++t) {
        max_diff = std::max(max_diff, std::fabs(p[t] - p[n + t]));
    }
    EXPECT_GT(max_diff, 1e-3f);
}

TEST_F(scorer_test, repeated_masks_are_scored_once) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    session.prepare(request());
    std::vector<eagle::mask> masks = some_masks(3);
    masks.push_back(masks[0]); // a repeat inside one call
    const std::vector<float> first = score(session, masks);
    EXPECT_EQ(session.stats().n_evaluations, 3);
    EXPECT_EQ(session.stats().n_memo_hits, 1);
    const std::vector<float> second = score(session, masks); // all from the memo
    EXPECT_EQ(session.stats().n_evaluations, 3);
    EXPECT_EQ(session.stats().n_memo_hits, 5);
    EXPECT_EQ(first, second);
    const size_t n = size_t(session.n_targets());
    EXPECT_TRUE(std::equal(first.begin(), first.begin() + n, first.begin() + 3 * n));
}

TEST_F(scorer_test, targets_select_and_cut_the_answer) {
    const std::vector<eagle::mask> masks = some_masks(2);
    const auto all_ptr = model_->new_session({});
    eagle::vlm_session & all = *all_ptr;
    const auto some_ptr = model_->new_session({});
    eagle::vlm_session & some = *some_ptr;
    all.prepare(request());
    eagle::score_request req = request();
    req.target_indices = {0};
    if (answer_.tokens.size() > 2) {
        req.target_indices.push_back(2);
    }
    some.prepare(req);
    const std::vector<float> p_all = score(all, masks), p_some = score(some, masks);
    const size_t n_all = answer_.tokens.size(), n_some = req.target_indices.size();
    for (size_t i = 0; i < masks.size(); ++i) {
        for (size_t k = 0; k < n_some; ++k) {
            EXPECT_NEAR(p_some[i * n_some + k], p_all[i * n_all + req.target_indices[k]], 1e-4f);
        }
    }
}

TEST_F(scorer_test, bad_requests_are_rejected_with_the_value) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    eagle::score_request req = request();
    req.answer.clear();
    EXPECT_THROW(session.prepare(req), eagle::error);
    req = request();
    req.target_indices = {int32_t(req.answer.size())};
    try {
        session.prepare(req);
        FAIL();
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find(std::to_string(req.answer.size())), std::string::npos);
    }
    session.prepare(request());
    std::vector<float> probs(session.n_targets());
    const std::vector<eagle::mask> wrong = {eagle::mask::full(image_.nx + 1, image_.ny)};
    EXPECT_THROW(session.score(wrong, probs), eagle::error);
    eagle::session_params tiny;
    tiny.n_ctx = 8;
    const auto small_ptr = model_->new_session(tiny);
    eagle::vlm_session & small = *small_ptr;
    EXPECT_THROW(small.prepare(request()), eagle::error);
}

} // namespace

// The prompt as token ids (a Hugging Face processor's, placeholder run included) scores and generates exactly as
// the text prompt that tokenizes to the same ids: the run becomes libmtmd's image chunk, nothing else changes.
TEST_F(scorer_test, prompt_ids_score_as_the_text_prompt_they_spell) {
    const std::vector<eagle::sequence_part> text_seq = model_->prompt_sequence(request());
    ASSERT_EQ(text_seq.size(), 3u); // LLaVA style: text, image, text
    ASSERT_TRUE(text_seq[1].is_image);
    std::vector<int32_t> ids = text_seq[0].ids;
    ids.insert(ids.end(), 9, 0); // <unk> x 9 where the image goes (no placeholder token in this vocabulary)
    ids.insert(ids.end(), text_seq[2].ids.begin(), text_seq[2].ids.end());
    eagle::score_request by_ids = request();
    by_ids.prompt = "not used";
    by_ids.prompt_ids = ids;
    const std::vector<eagle::sequence_part> ids_seq = model_->prompt_sequence(by_ids);
    ASSERT_EQ(ids_seq.size(), 3u);
    EXPECT_EQ(ids_seq[0].ids, text_seq[0].ids);
    EXPECT_EQ(ids_seq[1].n_image_tokens, text_seq[1].n_image_tokens);
    EXPECT_EQ(ids_seq[2].ids, text_seq[2].ids);

    const std::vector<eagle::mask> masks = some_masks(5);
    const auto session_ptr = model_->new_session({});
    session_ptr->prepare(request());
    const std::vector<float> from_text = score(*session_ptr, masks);
    session_ptr->prepare(by_ids);
    EXPECT_EQ(score(*session_ptr, masks), from_text);

    eagle::generate_request gen{image_, "not used", false, 8};
    gen.prompt_ids = ids;
    const eagle::generation g = session_ptr->generate(gen);
    ASSERT_EQ(g.tokens.size(), answer_.tokens.size());
    for (size_t i = 0; i < g.tokens.size(); ++i) {
        EXPECT_EQ(g.tokens[i].id, answer_.tokens[i].id);
        EXPECT_EQ(g.tokens[i].prob, answer_.tokens[i].prob);
    }
}

// --image-fit crop through libmtmd: the columns outside the centred square never reach the model
TEST_F(scorer_test, pixels_outside_the_crop_are_inert) {
    const int32_t margin = 32, nx = image_.nx + 2 * margin, ny = image_.ny;
    eagle::image_rgb8 wide{nx, ny, std::vector<uint8_t>(size_t(nx) * ny * 3)};
    for (int32_t y = 0; y < ny; ++y) {
        for (int32_t x = 0; x < nx; ++x) {
            uint8_t * px = &wide.rgb[(size_t(y) * nx + x) * 3];
            if (x >= margin && x < margin + image_.nx) {
                std::copy_n(&image_.rgb[(size_t(y) * image_.nx + x - margin) * 3], 3, px);
            } else {
                px[0] = uint8_t(x * 7), px[1] = uint8_t(y * 5), px[2] = 200; // a pattern the model would see
            }
        }
    }
    const auto without_columns = [&](int32_t x0, int32_t x1) {
        eagle::mask m = eagle::mask::full(nx, ny);
        for (int32_t y = 0; y < ny; ++y) {
            std::fill_n(m.keep.begin() + std::ptrdiff_t(size_t(y) * nx + x0), x1 - x0, uint8_t(0));
        }
        return m;
    };
    const std::vector<eagle::mask> masks = {eagle::mask::full(nx, ny), without_columns(0, margin),
                                            without_columns(margin + image_.nx, nx), without_columns(0, 2 * margin)};
    eagle::score_request req = request();
    req.image = wide;
    const auto session_ptr = model_->new_session({});
    req.fit = eagle::fit_mode::crop;
    session_ptr->prepare(req);
    const std::vector<float> crop = score(*session_ptr, masks);
    req.fit = eagle::fit_mode::native;
    session_ptr->prepare(req);
    const std::vector<float> native = score(*session_ptr, masks);
    const size_t n = req.answer.size();
    bool inside_counts = false, margins_count_natively = false;
    for (size_t t = 0; t < n; ++t) {
        EXPECT_EQ(crop[1 * n + t], crop[t]) << "left margin, target " << t;
        EXPECT_EQ(crop[2 * n + t], crop[t]) << "right margin, target " << t;
        inside_counts |= crop[3 * n + t] != crop[t];
        margins_count_natively |= native[1 * n + t] != native[t];
    }
    EXPECT_TRUE(inside_counts);          // columns 32..63 are inside the crop
    EXPECT_TRUE(margins_count_natively); // letterboxed, the margins are part of what the model sees
}
