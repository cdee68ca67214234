// eagle/eagle.h - eagle.cpp: black-box explanations of what vision-language models generate (EAGLE,
// arXiv 2509.22496). The library umbrella: everything that needs no inference engine.
//
// Usage (explaining with any scorer; eagle/backends.h loads a model whose sessions are scorers):
//   eagle::image_rgb8  image   = eagle::load_image("cat.png");
//   eagle::region_set  regions = eagle::make_slico_regions(image, 64);
//   eagle::score_request request{image, "describe the image", false, answer_ids};
//   eagle::explanation ex = eagle::explain(scorer, request, regions, {});
//   std::vector<float> map = eagle::attribution_map(ex, regions);
// examples/simple.cpp is the whole program, on the weight-free mock engine.
#pragma once

#include "eagle/error.h"
#include "eagle/explain.h"
#include "eagle/image.h"
#include "eagle/log.h"
#include "eagle/memo-scorer.h"
#include "eagle/metrics.h"
#include "eagle/regions.h"
#include "eagle/scorer.h"
#include "eagle/version.h"
