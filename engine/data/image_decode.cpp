// PNG decoding through libpng's simplified API and JPEG decoding through libjpeg with an error
// manager that turns library errors into messages; pixel conversion and resizing.
#include "engine/data/image_decode.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/data/file_reader.h"

namespace nl::data {
namespace {

// An image file larger than this is not a dataset sample.
constexpr size_t kMaxImageFileBytes = size_t{512} << 20;

void check_pixel_count(int64_t width, int64_t height, const std::string& name, const char* format) {
  NL_CHECK(width > 0 && height > 0, name, ": ", format, " header gives an empty image (", width, "×", height, ")");
  NL_CHECK(width * height <= kMaxImagePixels, name, ": ", format, " header gives a ", width, "×", height,
           " image, above the ", kMaxImagePixels, "-pixel limit");
}

DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& name) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, data, size)) {
    std::string message = png.message;
    png_image_free(&png);
    fail(name, ": corrupt PNG: ", message);
  }
  DecodedImage image;
  image.width = png.width;
  image.height = png.height;
  try {
    check_pixel_count(image.width, image.height, name, "PNG");
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  const bool colour = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
  image.channels = colour ? 3 : 1;
  png.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // Zeroed, because libpng composites away alpha onto what the buffer holds: black.
  image.pixels.assign(PNG_IMAGE_SIZE(png), 0);
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
    std::string message = png.message;
    png_image_free(&png);
    fail(name, ": corrupt PNG: ", message);
  }
  return image;
}

// libjpeg reports fatal errors by calling error_exit, which must not return; C++ exceptions
// cannot cross its C frames, so it longjmps back to decode_jpeg_into with the message.
struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_error_exit(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// Warnings about corrupt or missing entropy-coded data mean the pixels are partly invented;
// those are errors here. Other warnings (extra bytes between markers, …) are harmless and
// stay silent rather than printing to stderr.
void jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE: jpeg_error_exit(cinfo);
    default: return;
  }
}

// Plain C-style body: nothing with a destructor may be created between setjmp and a longjmp.
// Returns "" on success, else the failure.
std::string decode_jpeg_into(const uint8_t* data, size_t size, DecodedImage* image) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);  // destroying a struct that creation never reached is then a no-op
  JpegErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jpeg_error_exit;
  errors.base.emit_message = jpeg_emit_message;
  errors.message[0] = '\0';
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return errors.message[0] ? errors.message : "unknown libjpeg error";
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors.message, sizeof errors.message, "CMYK JPEGs are not supported; convert to RGB");
    std::longjmp(errors.jump, 1);
  }
  const int64_t width = cinfo.image_width, height = cinfo.image_height;
  if (width <= 0 || height <= 0 || width * height > kMaxImagePixels) {
    std::snprintf(errors.message, sizeof errors.message, "header gives a %lld×%lld image, outside 1 to %lld pixels",
                  static_cast<long long>(width), static_cast<long long>(height),
                  static_cast<long long>(kMaxImagePixels));
    std::longjmp(errors.jump, 1);
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  image->width = cinfo.output_width;
  image->height = cinfo.output_height;
  image->channels = cinfo.output_components;
  image->pixels.resize(static_cast<size_t>(image->width * image->height * image->channels));
  const size_t row_bytes = static_cast<size_t>(image->width * image->channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image->pixels.data() + cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return {};
}

DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  DecodedImage image;
  std::string failure = decode_jpeg_into(data, size, &image);
  NL_CHECK(failure.empty(), name, ": corrupt JPEG: ", failure);
  return image;
}

}  // namespace

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name) {
  static const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPngSignature, 8) == 0) return decode_png(data, size, name);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, size, name);
  char first[40] = "";
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i)
    std::snprintf(first + std::strlen(first), sizeof first - std::strlen(first), "%s%02X", i ? " " : "", data[i]);
  fail(name, ": not a PNG or JPEG file (", size == 0 ? "empty file" : std::string("first bytes ") + first, ")");
}

DecodedImage decode_image_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_whole_file(path, kMaxImageFileBytes, "the image file");
  return decode_image(bytes.data(), bytes.size(), path);
}

Tensor image_to_tensor(const DecodedImage& image, int64_t channels) {
  NL_CHECK(image.channels == 1 || image.channels == 3, "image_to_tensor: ", image.channels, " channels");
  if (channels == 0) channels = image.channels;
  NL_CHECK(channels == 1 || channels == 3, "image_to_tensor: channels must be 1 or 3, not ", channels);
  const int64_t plane = image.width * image.height;
  Tensor out = Tensor::empty({channels, image.height, image.width});
  float* o = out.data<float>();
  const uint8_t* p = image.pixels.data();
  constexpr float kScale = 1.0f / 255.0f;
  if (channels == image.channels) {
    for (int64_t i = 0; i < plane; ++i)
      for (int64_t c = 0; c < channels; ++c) o[c * plane + i] = p[i * channels + c] * kScale;
  } else if (channels == 3) {
    for (int64_t i = 0; i < plane; ++i) o[i] = o[plane + i] = o[2 * plane + i] = p[i] * kScale;
  } else {
    for (int64_t i = 0; i < plane; ++i)
      o[i] = (0.299f * p[3 * i] + 0.587f * p[3 * i + 1] + 0.114f * p[3 * i + 2]) * kScale;
  }
  return out;
}

Tensor load_image(const std::string& path, int64_t channels) {
  return image_to_tensor(decode_image_file(path), channels);
}

Tensor resize_image(const Tensor& image, int64_t height, int64_t width, ResizeMode mode) {
  NL_CHECK(image.dim() == 2 || image.dim() == 3, "resize_image: needs [C, H, W] or [H, W], got ", image.shape().str());
  NL_CHECK(height > 0 && width > 0, "resize_image: target size ", height, "×", width, " must be positive");
  Tensor x = image.to(Device::cpu()).to(DType::Float32).contiguous();
  const int64_t channels = x.dim() == 3 ? x.size(0) : 1;
  const int64_t in_h = x.size(-2), in_w = x.size(-1);
  NL_CHECK(in_h > 0 && in_w > 0, "resize_image: the image is empty (", in_h, "×", in_w, ")");
  Tensor out = Tensor::empty(x.dim() == 3 ? Shape{channels, height, width} : Shape{height, width});
  const float* in = x.data<float>();
  float* o = out.data<float>();
  const double scale_y = static_cast<double>(in_h) / height, scale_x = static_cast<double>(in_w) / width;
  if (mode == ResizeMode::Nearest) {
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < height; ++y) {
        const int64_t sy = std::min(in_h - 1, static_cast<int64_t>(y * scale_y));
        for (int64_t xo = 0; xo < width; ++xo) {
          const int64_t sx = std::min(in_w - 1, static_cast<int64_t>(xo * scale_x));
          o[(c * height + y) * width + xo] = in[(c * in_h + sy) * in_w + sx];
        }
      }
    return out;
  }
  // Source coordinate of an output pixel centre, clamped to the image, and its two neighbours.
  auto source = [](int64_t i, double scale, int64_t size, int64_t* lo, int64_t* hi, float* frac) {
    double s = std::max(0.0, (i + 0.5) * scale - 0.5);
    *lo = std::min(static_cast<int64_t>(s), size - 1);
    *hi = std::min(*lo + 1, size - 1);
    *frac = static_cast<float>(s - *lo);
  };
  for (int64_t y = 0; y < height; ++y) {
    int64_t y0, y1;
    float fy;
    source(y, scale_y, in_h, &y0, &y1, &fy);
    for (int64_t xo = 0; xo < width; ++xo) {
      int64_t x0, x1;
      float fx;
      source(xo, scale_x, in_w, &x0, &x1, &fx);
      for (int64_t c = 0; c < channels; ++c) {
        const float* plane = in + c * in_h * in_w;
        const float top = plane[y0 * in_w + x0] + fx * (plane[y0 * in_w + x1] - plane[y0 * in_w + x0]);
        const float bottom = plane[y1 * in_w + x0] + fx * (plane[y1 * in_w + x1] - plane[y1 * in_w + x0]);
        o[(c * height + y) * width + xo] = top + fy * (bottom - top);
      }
    }
  }
  return out;
}

}  // namespace nl::data
