// load_image_folder: class discovery, parallel decoding, size checks or resizing, stacking.
#include "engine/data/image_folder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"

namespace nl::data {
namespace {

namespace fs = std::filesystem;

bool is_image_path(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool is_hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

}  // namespace

std::shared_ptr<TensorDataset> load_image_folder(const std::string& root, const ImageFolderOptions& options) {
  NL_CHECK(options.channels == 0 || options.channels == 1 || options.channels == 3, root,
           ": channels must be 1, 3 or 0 (automatic), not ", options.channels);
  NL_CHECK((options.height == 0) == (options.width == 0) && options.height >= 0 && options.width >= 0, root,
           ": resize size ", options.height, "×", options.width,
           " needs both a positive height and width (or neither)");
  std::error_code ec;
  NL_CHECK(fs::is_directory(root, ec), root, ": not a folder");

  std::vector<fs::path> class_dirs;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory() && !is_hidden(entry.path())) class_dirs.push_back(entry.path());
  NL_CHECK(!ec, root, ": cannot list the folder: ", ec.message());
  std::sort(class_dirs.begin(), class_dirs.end());
  NL_CHECK(!class_dirs.empty(), root, ": no class folders (expected root/<class name>/<images>)");

  std::vector<std::string> class_names;
  std::vector<fs::path> files;
  std::vector<int64_t> labels;
  for (const fs::path& dir : class_dirs) {
    std::vector<fs::path> images;
    try {
      for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir))
        if (entry.is_regular_file() && !is_hidden(entry.path()) && is_image_path(entry.path()))
          images.push_back(entry.path());
    } catch (const fs::filesystem_error& e) {
      fail(dir.string(), ": cannot list the class folder: ", e.code().message());
    }
    NL_CHECK(!images.empty(), dir.string(), ": class folder holds no .png, .jpg or .jpeg images");
    std::sort(images.begin(), images.end());
    for (const fs::path& p : images) {
      files.push_back(p);
      labels.push_back(static_cast<int64_t>(class_names.size()));
    }
    class_names.push_back(dir.filename().string());
  }

  // Decoding dominates; each image is independent. Exceptions cannot leave an OpenMP region,
  // so each thread records its failure and the first (by file order) is raised afterwards.
  const int64_t n = static_cast<int64_t>(files.size());
  std::vector<DecodedImage> decoded(static_cast<size_t>(n));
  std::vector<std::string> failures(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < n; ++i) {
    try {
      decoded[i] = decode_image_file(files[i].string());
    } catch (const std::exception& e) {
      failures[i] = e.what();
    }
  }
  for (const std::string& f : failures) NL_CHECK(f.empty(), f);

  int64_t channels = options.channels;
  const auto in_colour = [](const DecodedImage& d) { return d.channels == 3; };
  if (channels == 0) channels = std::any_of(decoded.begin(), decoded.end(), in_colour) ? 3 : 1;
  const bool resize = options.height > 0;
  const int64_t height = resize ? options.height : decoded[0].height;
  const int64_t width = resize ? options.width : decoded[0].width;
  if (!resize)
    for (int64_t i = 1; i < n; ++i)
      NL_CHECK(decoded[i].height == height && decoded[i].width == width, files[i].string(), ": image is ",
               decoded[i].width, "×", decoded[i].height, " (width×height) but ", files[0].string(), " is ", width,
               "×", height, "; give load_image_folder a height and width to resize every image");

  Tensor inputs = Tensor::empty({n, channels, height, width});
  const size_t sample_floats = static_cast<size_t>(channels * height * width);
  float* out = inputs.data<float>();
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < n; ++i) {
    try {
      Tensor image = image_to_tensor(decoded[i], channels);
      if (resize && (decoded[i].height != height || decoded[i].width != width))
        image = resize_image(image, height, width, options.resize_mode);
      std::memcpy(out + i * sample_floats, image.data<float>(), sample_floats * sizeof(float));
      decoded[i].pixels = {};  // release as we go: the 8-bit copies are no longer needed
    } catch (const std::exception& e) {
      failures[i] = files[i].string() + ": " + e.what();
    }
  }
  for (const std::string& f : failures) NL_CHECK(f.empty(), f);
  return std::make_shared<TensorDataset>(inputs, tensor(labels, {n}), std::move(class_names));
}

}  // namespace nl::data
