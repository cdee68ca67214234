// eagle/eagle.h - eagle.cpp: black-box explanations of what vision-language models generate (EAGLE,
// arXiv 2509.22496). The library umbrella: everything that needs no inference engine.
//
// Usage, the whole pipeline (eagle/backends.h loads a model; eagle/run.h, eagle/report.h):
//   auto model   = eagle::load_vlm({.model_path = "m.gguf", .mmproj_path = "mmproj.gguf"});
//   auto session = model->new_session({});
//   eagle::explanation_request req;  req.image_path = "cat.png";  req.prompt = "describe the image";
//   eagle::explanation_record rec = eagle::run_explanation(*model, *session, req);
//   eagle::write_explanation_folder("out/cat", rec);
//
// Usage, the search alone on any scorer:
//   eagle::image_rgb8  image   = eagle::load_image("cat.png");
//   eagle::region_set  regions = eagle::make_slico_regions(image, 64);
//   eagle::score_request request{image, "describe the image", false, answer_ids};
//   eagle::explanation ex = eagle::explain(scorer, request, regions, {});
//   std::vector<float> map = eagle::attribution_map(ex, regions);
// examples/simple.cpp is the whole program, on the weight-free mock engine.
#pragma once

#include "eagle/correction.h"
#include "eagle/dataset.h"
#include "eagle/error.h"
#include "eagle/explain.h"
#include "eagle/file.h"
#include "eagle/image.h"
#include "eagle/log.h"
#include "eagle/memo-scorer.h"
#include "eagle/metrics.h"
#include "eagle/npy.h"
#include "eagle/record.h"
#include "eagle/regions.h"
#include "eagle/report.h"
#include "eagle/run.h"
#include "eagle/scorer.h"
#include "eagle/version.h"
