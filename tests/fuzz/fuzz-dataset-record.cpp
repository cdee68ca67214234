// Any line of a dataset file (`eagle explain --dataset FILE.jsonl`): the record parser either gives a request
// whose output folder is a direct child of the output root, or throws eagle::error.
#include "fuzz-common.h"

#include "dataset-record.h"

#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const std::string text(reinterpret_cast<const char *>(data), size);
    try {
        const eagle::cli::dataset_job job = eagle::cli::parse_dataset_record(text, 7, eagle::explanation_request{},
                                                                               "/data/set", "/out");
        // a record must never write outside --out: its folder is /out/<one safe name>
        const std::filesystem::path dir(job.out_dir);
        if (dir.parent_path() != "/out" || dir.filename() == "." || dir.filename() == ".." ||
            job.out_dir.find('\0') != std::string::npos) {
            __builtin_trap();
        }
    } catch (const eagle::error &) {
    }
    return 0;
}
