// --shard: which records of a dataset this process explains, given as i/n or read from the job scheduler.
#pragma once

#include <string>

namespace eagle::cli {

struct shard_spec {
    int index = 0;      // this process explains the records with record_index % count == index
    int count = 1;
    std::string source; // where index and count came from ("--shard", "Slurm array", "Kubernetes Indexed Job")
};

// "i/n"; "auto": Slurm job arrays (SLURM_ARRAY_TASK_ID, with SLURM_ARRAY_TASK_COUNT or
// SLURM_ARRAY_TASK_MIN/MAX; index = ID - MIN, so --array=1-8 works as well as 0-7); "auto/N": Kubernetes
// Indexed Jobs (JOB_COMPLETION_INDEX, N = the Job's completions, which the pod cannot see). Throws errc::invalid_argument naming the text or
// the variable that is missing or out of range. Reads the environment.
shard_spec parse_shard(const std::string & text);

} // namespace eagle::cli
