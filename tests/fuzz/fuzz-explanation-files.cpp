// Any explanation.json (or the reference's json/<name>.json) with any .npy beside it, as `eagle eval` reads
// them: eval_sample_from_json, parse_npy, the map, the metrics. Input: 2 bytes = the JSON's length, the JSON,
// then the .npy.
#include "fuzz-common.h"

#include "eagle/metrics.h"
#include "eagle/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    eagle::fuzz::input in(data, size);
    const uint8_t flags = in.byte();
    const std::string json_text = in.take(in.u16());
    eagle::explanation_files files;
    files.name = "sample";
    files.json_path = eagle::fuzz::write_scratch("explanation.json", reinterpret_cast<const uint8_t *>(json_text.data()),
                                                 json_text.size());
    files.npy_path = eagle::fuzz::write_scratch("regions.npy", in.rest(), in.rest_size());
    const eagle::map_source source = flags & 1 ? eagle::map_source::add_value : eagle::map_source::attribution;
    try {
        const eagle::sample_metrics m = eagle::evaluate_explanation_files(files, source, (flags >> 1) / 128.0);
        (void) eagle::sample_metrics_to_json(m);
        (void) eagle::summary_to_json(eagle::summarize({m}));
    } catch (const eagle::error &) {
    }
    return 0;
}
