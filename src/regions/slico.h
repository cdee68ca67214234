// Private: SLICO superpixels without OpenCV, a port of OpenCV ximgproc's SLICO (slic.cpp, 4.6.0; BSD 3-clause,
// SLIC/SLICO after Achanta et al.). It exists so the core library need not link libopencv_ximgproc, which
// pulls in libopencv_imgcodecs and about 120 shared libraries whose loading costs ~160 ms per process start.
// The port reproduces OpenCV's float arithmetic step for step, quirks included, so its labels are the ones
// OpenCV computes (checked pixel for pixel against OpenCV 4.6 over many images, sizes and parameters).
#pragma once

#include <cstdint>
#include <vector>

namespace eagle::detail {

// SLICO superpixel labels of an 8-bit BGR image (row-major, 3 bytes per pixel, nx*ny pixels), equal pixel for
// pixel to OpenCV 4.6 ximgproc's createSuperpixelSLIC(bgr, SLICO, region_size, ruler 20) then
// iterate(n_iterations), labels row-major. No enforceLabelConnectivity: a label may cover several disconnected
// patches, and label values need not be contiguous (a seed can end up owning no pixel).
//
// Preconditions (the caller checks them and throws; this function assumes them):
//   nx >= 1, ny >= 1, bgr holds nx*ny*3 bytes,
//   1 <= region_size <= min(nx, ny),
//   n_iterations >= 1.
//
// Bit-exactness needs IEEE single-precision arithmetic without contraction: build with SSE2 float math (the
// x86-64 default) and no -ffast-math; -ffp-contract=off keeps a compiler targeting FMA hardware from fusing
// the multiply-adds OpenCV's build performs as two roundings. That holds for Debian's x86-64 OpenCV; where
// OpenCV's own build fuses them (GCC's default contraction on arm64), its labels can differ from these in
// near-tie pixels.
std::vector<int32_t> slico_labels(const uint8_t * bgr, int32_t nx, int32_t ny, int32_t region_size, int32_t n_iterations);

} // namespace eagle::detail
