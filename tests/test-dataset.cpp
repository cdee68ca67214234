// Dataset runs of `eagle explain --dataset`: bad records are reported with their line and skipped, a run
// killed mid-way and resumed gives the same explanations as an uninterrupted one, shards split the records.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

const std::string k_fixture = EAGLE_TEST_FIXTURE_DIR;
const std::string k_samples = std::string(EAGLE_TEST_DATA_DIR) + "/samples";

std::string model_args() {
    return " --model " + k_fixture + "/fixture-model.gguf --mmproj " + k_fixture + "/fixture-mmproj.gguf";
}

int run(const std::string & cmd) {
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read(const fs::path & path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path fresh_dir(const std::string & name) {
    const fs::path dir = fs::path(EAGLE_TEST_TMP_DIR) / "dataset" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// the deterministic content of an explanation (timings and cumulative session counters left out)
nlohmann::json essence(const fs::path & file) {
    nlohmann::json j = nlohmann::json::parse(read(file));
    j.erase("run");
    j.erase("t_search_us");
    return j;
}

fs::path write_dataset(const fs::path & dir) {
    const fs::path file = dir / "data.jsonl";
    std::ofstream out(file);
    out << R"({"id": "a", "image": ")" << k_samples << R"(/shapes-1.png", "prompt": "describe the image", "answer": "a red circle"})" << "\n";
    out << R"({"id": "b", "image": ")" << k_samples << R"(/shapes-2.png", "prompt": "describe the image", "answer": "a yellow triangle and a green square ."})" << "\n";
    out << R"({"id": "c", "image": ")" << k_samples << R"(/shapes-1.png", "prompt": "is there a red circle ?", "answer": "yes", "location": [14, 40, 55, 81]})" << "\n";
    out << R"({"id": "d", "image": ")" << k_samples << R"(/shapes-2.png", "prompt": "what color is the square ?", "answer": "green"})" << "\n";
    return file;
}

// Every sample folder is either finished (explanation.json, complete JSON) or absent; no temporary is left.
void expect_only_whole_samples(const fs::path & out) {
    for (const auto & entry : fs::recursive_directory_iterator(out)) {
        EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
        if (entry.is_directory() && entry.path().parent_path() == out) {
            ASSERT_TRUE(fs::exists(entry.path() / "explanation.json")) << "half a sample: " << entry.path();
            EXPECT_TRUE(nlohmann::json::parse(read(entry.path() / "explanation.json")).is_object()) << entry.path();
        }
    }
}

int count_lines(const std::string & text) { return int(std::count(text.begin(), text.end(), '\n')); }

// holds an exclusive flock on path (a file it creates, or a folder) as another eagle process would
struct held_lock {
    int fd;
    explicit held_lock(const fs::path & path, bool is_dir)
        : fd(is_dir ? ::open(path.c_str(), O_RDONLY) : ::open(path.c_str(), O_RDWR | O_CREAT, 0644)) {
        EXPECT_GE(fd, 0) << path;
        EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0) << path;
    }
    ~held_lock() { ::close(fd); }
};

} // namespace

TEST(dataset, bad_records_are_reported_with_their_line_and_skipped) {
    const fs::path dir = fresh_dir("bad");
    const fs::path file = dir / "data.jsonl";
    {
        std::ofstream out(file);
        out << R"({"id": "ok", "image": ")" << k_samples << R"(/shapes-1.png", "prompt": "describe the image", "answer": "a red circle"})" << "\n";
        out << "{not json\n";
        out << R"({"id": "noimage", "image": "missing.png", "prompt": "describe the image", "answer": "a"})" << "\n";
        out << R"({"id": "noprompt", "image": ")" << k_samples << R"(/shapes-1.png"})" << "\n";
        // a float where token ids go (found by fuzz-dataset-record: casting 1e300 to an integer is undefined)
        out << R"({"id": "floatids", "image": ")" << k_samples << R"(/shapes-1.png", "prompt": "p", "answer_ids": [1e300]})" << "\n";
    }
    const fs::path out_dir = dir / "out";
    const int code = run(std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + " --out " + out_dir.string() +
                         model_args() + " -D 4 2> " + (dir / "stderr.txt").string());
    EXPECT_EQ(code, 1); // the run completes, and says that some records failed
    const std::string err = read(dir / "stderr.txt");
    EXPECT_NE(err.find("line 2: malformed JSON"), std::string::npos) << err;
    EXPECT_NE(err.find("line 3: load_image"), std::string::npos) << err;
    EXPECT_NE(err.find("line 4: missing \"prompt\""), std::string::npos) << err;
    EXPECT_NE(err.find("line 5: \"answer_ids\" must hold 32-bit integers, got 1e+300"), std::string::npos) << err;
    EXPECT_TRUE(fs::exists(out_dir / "ok" / "explanation.json"));
    EXPECT_FALSE(fs::exists(out_dir / "noimage" / "explanation.json"));
}

TEST(dataset, killed_and_resumed_equals_uninterrupted) {
    const fs::path dir = fresh_dir("resume");
    const fs::path file = write_dataset(dir);
    const std::string common = std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + model_args() +
                               " -D 9 --search exact";
    const fs::path full = dir / "full", resumed = dir / "resumed";
    ASSERT_EQ(run(common + " --out " + full.string()), 0);

    // start the same run, kill -9 it as soon as the first record is written, then resume
    const std::string first = (resumed / "a" / "explanation.json").string();
    const std::string killer = "sh -c '" + common + " --out " + resumed.string() + " & pid=$!; " +
                               "i=0; while [ ! -f " + first + " ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; " +
                               "kill -9 $pid; wait $pid 2>/dev/null; true'";
    run(killer);
    int n_finished = 0;
    for (const char * id : {"a", "b", "c", "d"}) {
        n_finished += fs::exists(resumed / id / "explanation.json");
    }
    ASSERT_GE(n_finished, 1);
    EXPECT_LT(n_finished, 4) << "the run finished before it could be killed; the test did not test resuming";
    ASSERT_EQ(run(common + " --out " + resumed.string()), 0);
    for (const char * id : {"a", "b", "c", "d"}) {
        ASSERT_TRUE(fs::exists(resumed / id / "explanation.json")) << id;
        EXPECT_EQ(essence(full / id / "explanation.json"), essence(resumed / id / "explanation.json")) << id;
    }
    // the ground truth of a record travels into its explanation
    EXPECT_EQ(nlohmann::json::parse(read(full / "c" / "explanation.json"))["location"], (std::vector<int>{14, 40, 55, 81}));
}

TEST(dataset, shards_split_the_records) {
    const fs::path dir = fresh_dir("shards");
    const fs::path file = write_dataset(dir);
    const std::string common = std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + model_args() +
                               " -D 4 --out " + (dir / "out").string();
    ASSERT_EQ(run(common + " --shard 1/2"), 0);
    EXPECT_FALSE(fs::exists(dir / "out" / "a" / "explanation.json"));
    EXPECT_TRUE(fs::exists(dir / "out" / "b" / "explanation.json"));
    EXPECT_FALSE(fs::exists(dir / "out" / "c" / "explanation.json"));
    EXPECT_TRUE(fs::exists(dir / "out" / "d" / "explanation.json"));
    ASSERT_EQ(run(common + " --shard 0/2"), 0);
    EXPECT_TRUE(fs::exists(dir / "out" / "a" / "explanation.json"));
    EXPECT_NE(run(common + " --shard 2/2 2>/dev/null"), 0);
}

// The authors' evaluation lists (hand-written in their format for the embedded ShapesWorld model) run through
// `eagle explain --layout reference`; every token id scored is theirs; the folder is read by a transcription of
// their scripts' reading code, whose numbers equal `eagle eval --map add-value` on the same folder.
TEST(dataset, the_reference_format_in_and_their_layout_out) {
    struct kind {
        const char * file;
        const char * images;
        std::vector<std::string> names;
    };
    const std::string data = EAGLE_TEST_DATA_DIR;
    const std::vector<kind> kinds = {
        {"shapesworld-coco-caption.json", "/samples/shapesworld", {"000001", "000005"}},
        {"shapesworld-coco-object.json", "/samples/shapesworld", {"000000", "000002"}},
        {"shapesworld-RePOPE.json", "/probe", {"000019_1", "000005_2"}},
    };
    const fs::path dir = fresh_dir("reference");
    for (const kind & k : kinds) {
        const fs::path file = fs::path(EAGLE_TEST_SOURCE_DIR) / "data" / "reference-dataset" / k.file;
        // their scripts read the masks only below a folder named interpretation_results
        const fs::path out = dir / "interpretation_results" / fs::path(k.file).stem();
        const std::string log = (dir / (fs::path(k.file).stem().string() + ".log")).string();
        ASSERT_EQ(run(std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + " --images " + data + k.images +
                      " --layout reference --out " + out.string() + " -D 6 --search exact > " + log + " 2>&1"),
                  0)
            << read(log);
        const nlohmann::json records = nlohmann::json::parse(read(file));
        ASSERT_EQ(records.size(), k.names.size());
        for (size_t r = 0; r < records.size(); ++r) {
            const fs::path json_path = out / "json" / (k.names[r] + ".json");
            const fs::path npy_path = out / "npy" / (k.names[r] + ".npy");
            ASSERT_TRUE(fs::exists(json_path)) << json_path;
            ASSERT_TRUE(fs::exists(npy_path)) << npy_path;
            EXPECT_NE(read(npy_path).find("'descr': '<i8'"), std::string::npos); // np.save of their int masks
            const nlohmann::json j = nlohmann::json::parse(read(json_path));
            const nlohmann::json & rec = records[r];
            std::vector<int32_t> all = rec["generated_ids"][0].is_array() ? rec["generated_ids"][0].get<std::vector<int32_t>>()
                                                                          : rec["generated_ids"].get<std::vector<int32_t>>();
            // scored: their prompt ids with the <unk> run replaced by the image chunk, then their answer ids
            const std::vector<int32_t> answer = j["scored_tokens"]["answer"];
            ASSERT_LT(answer.size(), all.size());
            EXPECT_TRUE(std::equal(answer.begin(), answer.end(), all.end() - std::ptrdiff_t(answer.size())));
            const nlohmann::json & prompt = j["scored_tokens"]["prompt"];
            ASSERT_EQ(prompt.size(), 3u) << prompt.dump();
            EXPECT_EQ(prompt[0]["text"], nlohmann::json({1, 259, 371, 13}));
            EXPECT_GT(prompt[1]["image_tokens"].get<int>(), 0);
            const std::vector<int32_t> after = prompt[2]["text"];
            EXPECT_TRUE(std::equal(after.begin(), after.end(), all.end() - std::ptrdiff_t(answer.size() + after.size())));
            EXPECT_EQ(all.size() - answer.size() - after.size(), 4u + 16u); // the prefix and the run, nothing else
            // their targets
            if (rec.contains("target_generated_index")) {
                EXPECT_EQ(j["selected_interpretation_token_id"], nlohmann::json({rec["target_generated_index"]}));
                EXPECT_EQ(j["selected_interpretation_token_word_id"], nlohmann::json({rec["target_generated_id"]}));
                EXPECT_EQ(j["select_category"], rec["select_category"]);
                EXPECT_EQ(j["location"], rec["location"]);
            } else {
                EXPECT_EQ(j["selected_interpretation_token_id"], rec["selected_interpretation_token_id"]);
                EXPECT_EQ(j["selected_interpretation_token_word_id"],
                          rec.contains("counter_word_id") ? rec["counter_word_id"] : rec["selected_interpretation_token_word_id"]);
            }
            if (rec.contains("label")) {
                EXPECT_EQ(j["label"], rec["label"]);
                EXPECT_TRUE(j.contains("revised_answering"));
            }
        }
        // their reading code, transcribed, against eagle eval on the same folder
        const std::string python = EAGLE_TEST_PYTHON;
        if (python.empty()) {
            GTEST_SKIP() << "no Python 3 for tests/data/reference-layout-reader.py";
        }
        const std::string theirs_txt = (dir / "theirs.json").string(), ours_txt = (dir / "ours.json").string();
        ASSERT_EQ(run(python + " " + EAGLE_TEST_SOURCE_DIR + "/data/reference-layout-reader.py " + out.string() + " > " +
                      theirs_txt + " 2>&1"),
                  0)
            << read(theirs_txt);
        ASSERT_EQ(run(std::string(EAGLE_CLI_PATH) + " eval --json --map add-value " + out.string() + " > " + ours_txt + " 2>&1"), 0)
            << read(ours_txt);
        const nlohmann::json theirs = nlohmann::json::parse(read(theirs_txt)), ours = nlohmann::json::parse(read(ours_txt));
        ASSERT_GE(theirs.size(), 4u) << theirs.dump();
        for (const auto & [key, value] : theirs.items()) {
            ASSERT_TRUE(ours.contains(key)) << key << " in " << ours.dump();
            if (value.is_null()) {
                EXPECT_TRUE(ours[key].is_null()) << key;
            } else {
                EXPECT_NEAR(ours[key].get<double>(), value.get<double>(), 1e-12) << k.file << ": " << key;
            }
        }
    }
}

// SIGINT and SIGTERM stop the run within one region of the search, keep only finished samples, exit with
// 128 + the signal and say so in one line; the same command then resumes and finishes.
TEST(dataset, stop_signals_end_at_a_sample_boundary_and_a_rerun_resumes) {
    for (const char * sig : {"INT", "TERM"}) {
        const fs::path dir = fresh_dir(std::string("signal-") + sig);
        const fs::path file = write_dataset(dir), out = dir / "out";
        const std::string cmd = std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + model_args() +
                                " -D 16 --search exact --out " + out.string();
        // signal the run as soon as the first sample is written, and record its exit code
        const std::string first = (out / "a" / "explanation.json").string();
        const fs::path code_file = dir / "code.txt", err_file = dir / "stderr.txt";
        const std::string script = "sh -c '" + cmd + " 2> " + err_file.string() + " & pid=$!; " +
                                   "i=0; while [ ! -f " + first + " ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; " +
                                   "kill -" + sig + " $pid; wait $pid; echo $? > " + code_file.string() + "'";
        run(script);
        const int code = std::stoi(read(code_file));
        const int n_finished = int(fs::exists(out / "a" / "explanation.json")) + fs::exists(out / "b" / "explanation.json") +
                               fs::exists(out / "c" / "explanation.json") + fs::exists(out / "d" / "explanation.json");
        if (n_finished == 4) {
            EXPECT_EQ(code, 0);
            GTEST_SKIP() << "the run finished before the signal arrived; nothing to test";
        }
        EXPECT_EQ(code, std::string(sig) == "INT" ? 130 : 143) << read(err_file);
        const std::string err = read(err_file);
        EXPECT_EQ(count_lines(err), 1) << err;
        EXPECT_NE(err.find(std::string("stopped by SIG") + sig), std::string::npos) << err;
        expect_only_whole_samples(out);
        ASSERT_EQ(run(cmd), 0);
        for (const char * id : {"a", "b", "c", "d"}) {
            EXPECT_TRUE(fs::exists(out / id / "explanation.json")) << id;
        }
    }
}

// An output folder that cannot be written is one error line (exit 2) that ends the run, and never leaves a
// half-written explanation.json: a path under a file, and a disk that fills up (a file-size limit, ulimit -f).
TEST(dataset, unwritable_output_and_full_disk_are_one_error_and_leave_no_half_sample) {
    const fs::path dir = fresh_dir("unwritable");
    const fs::path file = write_dataset(dir);
    const std::string cmd = std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + model_args() + " -D 4";
    {
        std::ofstream(dir / "a-file") << "x";
        const int code = run(cmd + " --out " + (dir / "a-file" / "out").string() + " 2> " + (dir / "err1.txt").string());
        const std::string err = read(dir / "err1.txt");
        EXPECT_EQ(code, 2) << err;
        EXPECT_EQ(count_lines(err), 1) << err;
        EXPECT_NE(err.find("eagle: error: cannot create output folder"), std::string::npos) << err;
    }
    {
        // 64 KiB per file: the first sample's report.html or explanation.json does not fit
        const fs::path out = dir / "full";
        const int code = run("bash -c 'ulimit -f 64; exec " + cmd + " --out " + out.string() + "' 2> " + (dir / "err2.txt").string());
        const std::string err = read(dir / "err2.txt");
        EXPECT_EQ(code, 2) << err;
        EXPECT_EQ(count_lines(err), 1) << err;
        EXPECT_NE(err.find("File too large"), std::string::npos) << err;
        for (const char * id : {"a", "b", "c", "d"}) {
            EXPECT_FALSE(fs::exists(out / id / "explanation.json")) << id;
        }
        for (const auto & entry : fs::recursive_directory_iterator(out)) {
            EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
        }
    }
}

// Two processes on one output folder: the same shard is refused at once (exit 2, one line), before any model
// is loaded; a sample folder another process holds is skipped and reported, the others are explained.
TEST(dataset, a_second_process_on_the_same_shard_refuses_and_busy_samples_are_skipped) {
    const fs::path dir = fresh_dir("two-processes");
    const fs::path file = write_dataset(dir), out = dir / "out";
    fs::create_directories(out / "c");
    const std::string cmd = std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + model_args() +
                            " -D 4 --out " + out.string();
    {
        const held_lock other(out / ".eagle-shard-0-of-1.lock", false);
        const int code = run(cmd + " 2> " + (dir / "err1.txt").string());
        const std::string err = read(dir / "err1.txt");
        EXPECT_EQ(code, 2) << err;
        EXPECT_EQ(count_lines(err), 1) << err;
        EXPECT_NE(err.find("another eagle process is explaining shard 0/1"), std::string::npos) << err;
        EXPECT_FALSE(fs::exists(out / "a"));
        // another shard of the same folder runs meanwhile
        EXPECT_EQ(run(cmd + " --shard 1/2"), 0);
        EXPECT_TRUE(fs::exists(out / "d" / "explanation.json"));
    }
    {
        const held_lock other(out / "c", true); // "c" is being explained by another process
        const int code = run(cmd + " --shard 0/1 2> " + (dir / "err2.txt").string());
        const std::string err = read(dir / "err2.txt");
        EXPECT_EQ(code, 1) << err;
        EXPECT_NE(err.find("1 records skipped: another eagle process is explaining them"), std::string::npos) << err;
        EXPECT_FALSE(fs::exists(out / "c" / "explanation.json"));
        EXPECT_TRUE(fs::exists(out / "a" / "explanation.json"));
    }
    EXPECT_EQ(run(cmd), 0); // resumed: only "c" was left
    EXPECT_TRUE(fs::exists(out / "c" / "explanation.json"));
    expect_only_whole_samples(out);
}

// --shard auto: the index and count from a Slurm job array or a Kubernetes Indexed Job; every shard written to a
// folder of its own (as array tasks on separate machines would), `eagle eval` over all of them gives the numbers
// of one unsharded run
TEST(dataset, shard_auto_from_the_scheduler_merges_to_the_unsharded_run) {
    const fs::path dir = fresh_dir("shard-auto");
    const fs::path file = write_dataset(dir);
    const std::string explain = std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + model_args() + " -D 4";
    ASSERT_EQ(run(explain + " --out " + (dir / "full").string()), 0);
    // a Slurm array --array=1-3: ids 1..3, index = id - min
    for (int id = 1; id <= 3; ++id) {
        const std::string env = "SLURM_ARRAY_TASK_ID=" + std::to_string(id) + " SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 ";
        ASSERT_EQ(run("env " + env + explain + " --shard auto --out " + (dir / ("slurm-" + std::to_string(id))).string()), 0);
    }
    // records 0 and 3 (a, d) go to index 0: task id 1
    EXPECT_TRUE(fs::exists(dir / "slurm-1" / "a" / "explanation.json"));
    EXPECT_TRUE(fs::exists(dir / "slurm-1" / "d" / "explanation.json"));
    EXPECT_TRUE(fs::exists(dir / "slurm-2" / "b" / "explanation.json"));
    EXPECT_TRUE(fs::exists(dir / "slurm-3" / "c" / "explanation.json"));
    // a Kubernetes Indexed Job of 2 completions
    for (int index = 0; index < 2; ++index) {
        ASSERT_EQ(run("env JOB_COMPLETION_INDEX=" + std::to_string(index) + " " + explain + " --shard auto/2 --out " +
                      (dir / ("k8s-" + std::to_string(index))).string()), 0);
    }
    EXPECT_TRUE(fs::exists(dir / "k8s-1" / "b" / "explanation.json"));

    auto eval = [&](const std::string & dirs) {
        const fs::path out = dir / "eval.json";
        EXPECT_EQ(run(std::string(EAGLE_CLI_PATH) + " eval --json " + dirs + " > " + out.string()), 0);
        nlohmann::json j = nlohmann::json::parse(read(out));
        return j;
    };
    const nlohmann::json full = eval((dir / "full").string());
    const nlohmann::json slurm = eval((dir / "slurm-1").string() + " " + (dir / "slurm-2").string() + " " + (dir / "slurm-3").string());
    const nlohmann::json k8s = eval((dir / "k8s-0").string() + " " + (dir / "k8s-1").string());
    EXPECT_EQ(full.value("n_samples", -1), 4) << full.dump();
    // every number eval prints, not a chosen few (the metrics must be there to be compared)
    for (const char * key : {"insertion_auc", "deletion_auc", "average_highest_confidence", "point_game_box"}) {
        EXPECT_TRUE(full.contains(key)) << key << " missing: " << full.dump();
    }
    EXPECT_EQ(slurm, full) << slurm.dump() << "\n" << full.dump();
    EXPECT_EQ(k8s, full) << k8s.dump() << "\n" << full.dump();

    // one clear error each: no scheduler, a Kubernetes index without the count, an index outside the count
    const std::string err = (dir / "err.txt").string();
    EXPECT_EQ(run("env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX " + explain + " --shard auto --out " + (dir / "x").string() +
                  " 2> " + err), 1);
    EXPECT_NE(read(err).find("neither $SLURM_ARRAY_TASK_ID"), std::string::npos) << read(err);
    EXPECT_EQ(run("env -u SLURM_ARRAY_TASK_ID JOB_COMPLETION_INDEX=0 " + explain + " --shard auto --out " + (dir / "x").string() +
                  " 2> " + err), 1);
    EXPECT_NE(read(err).find("give them: --shard auto/N"), std::string::npos) << read(err);
    EXPECT_EQ(run("env -u SLURM_ARRAY_TASK_ID JOB_COMPLETION_INDEX=2 " + explain + " --shard auto/2 --out " + (dir / "x").string() +
                  " 2> " + err), 1);
    EXPECT_NE(read(err).find("index 2 is not in 0..1"), std::string::npos) << read(err);
}
