#include "shard.h"

#include "eagle/error.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace eagle::cli {

namespace {

// a whole non-negative number, or -1
long parse_count(const char * text) {
    if (!text || !*text) {
        return -1;
    }
    char * end = nullptr;
    const long v = std::strtol(text, &end, 10);
    return *end == '\0' && v >= 0 ? v : -1;
}

long env_number(const char * name) {
    const char * v = std::getenv(name);
    const long n = parse_count(v);
    if (v && n < 0) {
        throw error(errc::invalid_argument, std::string("--shard auto: $") + name + "='" + v + "' is not a whole number");
    }
    return n;
}

void check(const shard_spec & s, const std::string & what) {
    if (s.count < 1 || s.index < 0 || s.index >= s.count) {
        throw error(errc::invalid_argument, "--shard " + what + ": index " + std::to_string(s.index) + " is not in 0.." +
                                                std::to_string(s.count - 1) + " (" + s.source + ")");
    }
}

} // namespace

shard_spec parse_shard(const std::string & text) {
    shard_spec s;
    if (text == "auto" || text.rfind("auto/", 0) == 0) {
        const long given = text == "auto" ? -1 : parse_count(text.c_str() + 5);
        if (text != "auto" && given < 1) {
            throw error(errc::invalid_argument, "--shard '" + text + "': the count after auto/ must be a whole number >= 1");
        }
        const long slurm_id = env_number("SLURM_ARRAY_TASK_ID");
        if (slurm_id >= 0) {
            const long min = std::max(0L, env_number("SLURM_ARRAY_TASK_MIN"));
            const long max = env_number("SLURM_ARRAY_TASK_MAX");
            long count = env_number("SLURM_ARRAY_TASK_COUNT");
            if (count < 0 && max >= 0) {
                count = max - min + 1;
            }
            if (given > 0) {
                count = given;
            }
            if (count < 1) {
                throw error(errc::invalid_argument, "--shard auto: $SLURM_ARRAY_TASK_ID is set but neither "
                                                    "$SLURM_ARRAY_TASK_COUNT nor $SLURM_ARRAY_TASK_MAX; give the count: --shard auto/N");
            }
            s = {int(slurm_id - min), int(count), "Slurm array task " + std::to_string(slurm_id)};
            check(s, text);
            return s;
        }
        const long k8s_index = env_number("JOB_COMPLETION_INDEX");
        if (k8s_index >= 0) {
            if (given < 1) {
                throw error(errc::invalid_argument, "--shard auto: $JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) "
                                                    "but the pod cannot see the Job's completions; give them: --shard auto/N");
            }
            s = {int(k8s_index), int(given), "Kubernetes Indexed Job completion " + std::to_string(k8s_index)};
            check(s, text);
            return s;
        }
        throw error(errc::invalid_argument, "--shard " + text + ": neither $SLURM_ARRAY_TASK_ID (a Slurm job array) nor "
                                            "$JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; use --shard i/n");
    }
    char slash = 0;
    char rest = 0;
    if (std::sscanf(text.c_str(), "%d%c%d%c", &s.index, &slash, &s.count, &rest) != 3 || slash != '/' || s.count < 1 ||
        s.index < 0 || s.index >= s.count) {
        throw error(errc::invalid_argument, "--shard '" + text + "' is not i/n with 0 <= i < n, auto or auto/N");
    }
    s.source = "--shard";
    return s;
}

} // namespace eagle::cli
