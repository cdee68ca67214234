// Dataset runs of `eagle explain --dataset`: bad records are reported with their line and skipped, a run
// killed mid-way and resumed gives the same explanations as an uninterrupted one, shards split the records.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

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
    }
    const fs::path out_dir = dir / "out";
    const int code = run(std::string(EAGLE_CLI_PATH) + " explain -q --dataset " + file.string() + " --out " + out_dir.string() +
                         model_args() + " -D 4 2> " + (dir / "stderr.txt").string());
    EXPECT_EQ(code, 1); // the run completes, and says that some records failed
    const std::string err = read(dir / "stderr.txt");
    EXPECT_NE(err.find("line 2: malformed JSON"), std::string::npos) << err;
    EXPECT_NE(err.find("line 3: load_image"), std::string::npos) << err;
    EXPECT_NE(err.find("line 4: missing \"prompt\""), std::string::npos) << err;
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
    for (const char * key : {"insertion", "deletion", "n_samples", "metrics"}) {
        if (full.contains(key)) {
            EXPECT_EQ(slurm[key], full[key]) << key;
            EXPECT_EQ(k8s[key], full[key]) << key;
        }
    }

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
