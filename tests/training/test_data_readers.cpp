// Dataset file readers on small files written here (IDX plain and gz, CIFAR batches, CSV
// variants, PNG/JPEG image folders, .npy pairs), the real datasets in ../shared/datasets,
// and one test per kind of malformed file checking that the error names file and field.
#include <QTemporaryDir>

#include <png.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>

#include <jpeglib.h>

#include "engine/data/data.h"
#include "engine/io/npy.h"
#include "testing.h"

using namespace nl;
using namespace nl::data;
using nl::testing::error_of;

namespace {

using Bytes = std::vector<uint8_t>;

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
void write_text(const std::string& path, const std::string& text) { write_file(path, Bytes(text.begin(), text.end())); }
void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// An IDX file: magic 0 0 type rank, big-endian dims, then `data`.
Bytes idx(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<uint8_t>(d >> shift));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
// n images of h×w whose pixel k of image i is (i * 7 + k) mod 256, and labels i mod 10.
Bytes mnist_pixels(uint32_t n, uint32_t h, uint32_t w) {
  Bytes px(n * h * w);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i / (h * w)) * 7 + i % (h * w));
  return px;
}
Bytes mnist_labels(uint32_t n) {
  Bytes l(n);
  for (uint32_t i = 0; i < n; ++i) l[i] = static_cast<uint8_t>(i % 10);
  return l;
}

// Interleaved 8-bit pixels of a width × height image with `channels` 1 or 3.
Bytes gradient(int width, int height, int channels, int seed) {
  Bytes px(width * height * channels);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37 + seed * 11) % 256);
  return px;
}
Bytes flat(int width, int height, std::vector<uint8_t> colour) {
  Bytes px;
  for (int i = 0; i < width * height; ++i) px.insert(px.end(), colour.begin(), colour.end());
  return px;
}

Bytes encode_png(int width, int height, int channels, const Bytes& px) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, px.data(), 0, nullptr);
  Bytes out(size);
  png_image_write_to_memory(&image, out.data(), &size, 0, px.data(), 0, nullptr);
  out.resize(size);
  return out;
}

Bytes encode_jpeg(int width, int height, int channels, const Bytes& px) {
  jpeg_compress_struct c;
  jpeg_error_mgr errors;
  c.err = jpeg_std_error(&errors);
  jpeg_create_compress(&c);
  unsigned char* memory = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &memory, &size);
  c.image_width = width;
  c.image_height = height;
  c.input_components = channels;
  c.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(px.data()) + c.next_scanline * width * channels;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  Bytes out(memory, memory + size);
  std::free(memory);
  jpeg_destroy_compress(&c);
  return out;
}

// Asserts that `message` holds every one of `parts`, showing the message when not.
#define EXPECT_MESSAGE(message, ...)                                       \
  do {                                                                     \
    const std::string m_ = (message);                                      \
    QVERIFY2(!m_.empty(), "expected an error, got none");                  \
    for (const char* part_ : {__VA_ARGS__})                                \
      QVERIFY2(m_.find(part_) != std::string::npos, (m_ + "  [missing: " + part_ + "]").c_str()); \
  } while (0)

}  // namespace

class TestDataReaders : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string at(const std::string& name) { return dir_.filePath(QString::fromStdString(name)).toStdString(); }

 private slots:
  void initTestCase() { QVERIFY(dir_.isValid()); }

  void idx_plain_and_gzip() {
    write_file(at("images-idx3-ubyte"), idx(0x08, {5, 28, 28}, mnist_pixels(5, 28, 28)));
    write_file(at("labels-idx1-ubyte"), idx(0x08, {5}, mnist_labels(5)));
    write_gz(at("images-idx3-ubyte.gz"), idx(0x08, {5, 28, 28}, mnist_pixels(5, 28, 28)));
    write_gz(at("labels-idx1-ubyte.gz"), idx(0x08, {5}, mnist_labels(5)));
    auto plain = load_mnist(at("images-idx3-ubyte"), at("labels-idx1-ubyte"));
    auto gz = load_mnist(at("images-idx3-ubyte.gz"), at("labels-idx1-ubyte.gz"));
    QCOMPARE(plain->size(), 5);
    QCOMPARE(plain->input_shape(), (Shape{1, 28, 28}));
    QCOMPARE(plain->num_classes(), 10);
    Example e = plain->get(3);
    QCOMPARE(e.target.item(), 3.0);
    QCOMPARE(e.input.to_vector<float>()[10], (3 * 7 + 10) / 255.0f);
    NL_EXPECT_CLOSE(gz->inputs(), plain->inputs(), 0, 0);
    QCOMPARE(gz->targets().to_vector<int64_t>(), plain->targets().to_vector<int64_t>());
    auto fashion = load_fashion_mnist(at("images-idx3-ubyte.gz"), at("labels-idx1-ubyte"));
    QCOMPARE(fashion->class_names()[9], std::string("Ankle boot"));
    Tensor raw = load_idx(at("images-idx3-ubyte.gz"));
    QCOMPARE(raw.shape(), (Shape{5, 28, 28}));
    QCOMPARE(raw.dtype(), DType::UInt8);
  }

  void cifar_batches() {
    Bytes first, second;
    for (int r = 0; r < 3; ++r) {
      first.push_back(static_cast<uint8_t>(r + 7));
      Bytes px = gradient(32, 32, 3, r);
      first.insert(first.end(), px.begin(), px.end());
    }
    for (int r = 0; r < 2; ++r) {
      second.push_back(static_cast<uint8_t>(r));
      Bytes px = gradient(32, 32, 3, 10 + r);
      second.insert(second.end(), px.begin(), px.end());
    }
    write_file(at("data_batch_1.bin"), first);
    write_gz(at("data_batch_2.bin"), second);  // gzip-compressed batches read too
    auto d = load_cifar10({at("data_batch_1.bin"), at("data_batch_2.bin")});
    QCOMPARE(d->size(), 5);
    QCOMPARE(d->input_shape(), (Shape{3, 32, 32}));
    QCOMPARE(d->targets().to_vector<int64_t>(), (std::vector<int64_t>{7, 8, 9, 0, 1}));
    QCOMPARE(d->class_names()[9], std::string("truck"));
    // Record bytes 1..3072 are the red plane, then green, then blue: [3, 32, 32] as stored.
    auto x = d->get(4).input.to_vector<float>();
    Bytes px = gradient(32, 32, 3, 11);
    for (int i : {0, 1023, 1024, 3071}) QCOMPARE(x[i], px[i] / 255.0f);
  }

  void csv_with_header_and_string_labels() {
    write_text(at("flowers.csv"), "width, height ,species\r\n1,2,setosa\r\n\r\n3,4.5,virginica\n5,-6e-1,setosa\n");
    auto d = load_csv(at("flowers.csv"));
    QCOMPARE(d->size(), 3);
    QCOMPARE(d->inputs().to_vector<float>(), (std::vector<float>{1, 2, 3, 4.5f, 5, -0.6f}));
    QCOMPARE(d->class_names(), (std::vector<std::string>{"setosa", "virginica"}));
    QCOMPARE(d->targets().to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0}));

    write_text(at("named.csv"), "f1,label,\"f,2\"\n1,0,2\n3,2,4\n");
    auto named = load_csv(at("named.csv"), {.label_column_name = "label"});
    QCOMPARE(named->inputs().to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
    QCOMPARE(named->num_classes(), 3);
    EXPECT_MESSAGE(error_of([&] { load_csv(at("named.csv"), {.label_column_name = "y"}); }), "no column named 'y'",
                   "f1, label, f,2");
    auto first_column = load_csv(at("named.csv"), {.label_column = 0});
    QCOMPARE(first_column->targets().to_vector<int64_t>(), (std::vector<int64_t>{1, 3}));
  }

  void csv_without_header_gzipped_and_regression() {
    const std::string text = "0.5,2,1\n3,4,0\n1e1,+6,2\n";
    write_text(at("plain.csv"), text);
    write_gz(at("plain.csv.gz"), Bytes(text.begin(), text.end()));
    auto d = load_csv(at("plain.csv"));
    QCOMPARE(d->size(), 3);
    QCOMPARE(d->inputs().to_vector<float>(), (std::vector<float>{0.5f, 2, 3, 4, 10, 6}));
    QCOMPARE(d->targets().to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 2}));
    NL_EXPECT_CLOSE(load_csv(at("plain.csv.gz"))->inputs(), d->inputs(), 0, 0);
    auto r = load_csv(at("plain.csv"), {.regression = true});
    QCOMPARE(r->num_classes(), 0);
    QCOMPARE(r->targets().shape(), (Shape{3, 1}));
    QCOMPARE(r->targets().to_vector<float>(), (std::vector<float>{1, 0, 2}));
    write_text(at("semicolons.csv"), "1;2;0\n3;4;1\n");
    QCOMPARE(load_csv(at("semicolons.csv"), {.delimiter = ';'})->inputs().to_vector<float>(),
             (std::vector<float>{1, 2, 3, 4}));
  }

  void csv_sklearn_counts_line() {
    write_text(at("sk.csv"), "3,2,red,green\n1,2,0\n3,4,1\n5,6,1\n");
    auto d = load_csv(at("sk.csv"));
    QCOMPARE(d->size(), 3);
    QCOMPARE(d->class_names(), (std::vector<std::string>{"red", "green"}));
    QCOMPARE(d->inputs().to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    write_text(at("sk_short.csv"), "4,2,red,green\n1,2,0\n3,4,1\n5,6,1\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("sk_short.csv")); }), "sk_short.csv", "line 1 says 4 samples",
                   "holds 3 data rows");
    write_text(at("sk_class.csv"), "2,2,red,green\n1,2,0\n3,4,2\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("sk_class.csv")); }), "sk_class.csv", "line 3", "class 2",
                   "names only 2 classes");
  }

  void image_folders_of_png_and_jpeg() {
    const std::string root = at("pets");
    QDir().mkpath(QString::fromStdString(root + "/cat/more"));
    QDir().mkpath(QString::fromStdString(root + "/dog"));
    QDir().mkpath(QString::fromStdString(root + "/.cache"));
    Bytes rgb = gradient(6, 4, 3, 1), grey = gradient(6, 4, 1, 2);
    write_file(root + "/cat/a.png", encode_png(6, 4, 3, rgb));
    write_file(root + "/cat/more/b.JPG", encode_jpeg(6, 4, 3, flat(6, 4, {200, 40, 90})));
    write_file(root + "/dog/c.png", encode_png(6, 4, 1, grey));
    write_text(root + "/dog/notes.txt", "not an image");
    write_file(root + "/.cache/x.png", encode_png(6, 4, 1, grey));
    auto d = load_image_folder(root);
    QCOMPARE(d->class_names(), (std::vector<std::string>{"cat", "dog"}));
    QCOMPARE(d->size(), 3);
    QCOMPARE(d->input_shape(), (Shape{3, 4, 6}));  // one colour image makes every sample RGB
    QCOMPARE(d->targets().to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1}));
    auto a = d->get(0).input.to_vector<float>();
    for (int i = 0; i < 24; ++i)
      for (int c = 0; c < 3; ++c) QCOMPARE(a[c * 24 + i], rgb[i * 3 + c] / 255.0f);  // PNG is lossless
    auto b = d->get(1).input.to_vector<float>();
    for (int i = 0; i < 24; ++i)  // JPEG is lossy, but a flat colour survives closely
      QVERIFY(std::fabs(b[i] - 200 / 255.0f) < 0.03 && std::fabs(b[48 + i] - 90 / 255.0f) < 0.03);
    auto c = d->get(2).input.to_vector<float>();
    for (int i = 0; i < 24; ++i)  // grey repeated into R, G and B
      QVERIFY(std::fabs(c[i] - grey[i] / 255.0f) < 1e-6 && c[24 + i] == c[i] && c[48 + i] == c[i]);

    auto mono = load_image_folder(root, {.channels = 1});
    QCOMPARE(mono->input_shape(), (Shape{1, 4, 6}));
    const float luma = (0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2]) / 255.0f;
    QVERIFY(std::fabs(mono->get(0).input.to_vector<float>()[0] - luma) < 1e-5);

    write_file(root + "/dog/d.png", encode_png(8, 8, 1, gradient(8, 8, 1, 3)));
    EXPECT_MESSAGE(error_of([&] { load_image_folder(root); }), "dog/d.png", "image is 8×8", "cat/a.png", "is 6×4");
    auto resized = load_image_folder(root, {.height = 5, .width = 5, .resize_mode = ResizeMode::Nearest});
    QCOMPARE(resized->input_shape(), (Shape{3, 5, 5}));
    QCOMPARE(resized->size(), 4);
  }

  void resize_nearest_and_bilinear() {
    Tensor img = tensor({0, 1, 2, 3}, {1, 2, 2});
    auto up = resize_image(img, 4, 4, ResizeMode::Bilinear).to_vector<float>();
    // PyTorch's interpolate(mode="bilinear", align_corners=False) gives these values.
    std::vector<float> want = {0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3};
    QCOMPARE(up, want);
    Tensor big = arange(0, 16).reshape({4, 4});
    QCOMPARE(resize_image(big, 2, 2, ResizeMode::Nearest).to_vector<float>(), (std::vector<float>{0, 2, 8, 10}));
    QCOMPARE(resize_image(big, 2, 2, ResizeMode::Bilinear).to_vector<float>(),
             (std::vector<float>{2.5, 4.5, 10.5, 12.5}));
  }

  void npy_pairs() {
    save_npy(at("inputs.npy"), arange(0, 12).reshape({4, 3}).to(DType::Float64));
    save_npy(at("labels.npy"), tensor(std::vector<int64_t>{2, 0, 1, 2}, {4}).to(DType::Int32));
    save_npy(at("values.npy"), tensor({0.5, 1.5, 2.5, 3.5}, {4}));
    auto d = load_npy_pair(at("inputs.npy"), at("labels.npy"), {"a", "b", "c"});
    QCOMPARE(d->inputs().dtype(), DType::Float32);
    QCOMPARE(d->input_shape(), Shape{3});
    QCOMPARE(d->get(1).input.to_vector<float>(), (std::vector<float>{3, 4, 5}));
    QCOMPARE(d->targets().to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 1, 2}));
    QCOMPARE(d->class_names()[2], std::string("c"));
    auto r = load_npy_pair(at("inputs.npy"), at("values.npy"));
    QCOMPARE(r->num_classes(), 0);
    QCOMPARE(r->get(3).target.item(), 3.5);
  }

  void real_datasets_load_with_their_sizes() {
    const std::string shared = std::string(NETLOOM_SHARED_DIR) + "/datasets";
    if (!QFileInfo::exists(QString::fromStdString(shared + "/iris.csv")))
      QSKIP(("the shared datasets are not at " + shared + " (../shared beside the project)").c_str());
    struct Expected {
      const char* file;
      int64_t rows, features, classes;
      const char* first_class;
    };
    const Expected all[] = {{"iris.csv", 150, 4, 3, "setosa"},
                            {"wine_data.csv", 178, 13, 3, "class_0"},
                            {"breast_cancer.csv", 569, 30, 2, "malignant"},
                            {"digits.csv.gz", 1797, 64, 10, "0"}};
    for (const Expected& e : all) {
      auto d = load_csv(shared + "/" + e.file);
      QCOMPARE(d->size(), e.rows);
      QCOMPARE(d->input_shape(), Shape{e.features});
      QCOMPARE(d->num_classes(), e.classes);
      QCOMPARE(d->class_names()[0], std::string(e.first_class));
      std::vector<int64_t> per_class(e.classes, 0);
      for (int64_t y : d->targets().to_vector<int64_t>()) ++per_class[y];
      for (int64_t count : per_class) QVERIFY(count > 0);
    }
    auto iris = load_csv(shared + "/iris.csv");
    QCOMPARE(iris->get(0).input.to_vector<float>(), (std::vector<float>{5.1f, 3.5f, 1.4f, 0.2f}));
    auto digits = load_csv(shared + "/digits.csv.gz");
    for (float v : digits->inputs().to_vector<float>()) QVERIFY(v >= 0 && v <= 16);
  }

  // ---- Malformed files: the error names the file and the field at fault ----------------

  void idx_with_wrong_magic() {
    Bytes bad = idx(0x08, {2, 28, 28}, mnist_pixels(2, 28, 28));
    bad[0] = 0x12, bad[1] = 0x34;
    write_file(at("magic-idx3-ubyte"), bad);
    write_file(at("labels2-idx1-ubyte"), idx(0x08, {2}, mnist_labels(2)));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("magic-idx3-ubyte"), at("labels2-idx1-ubyte")); }),
                   "magic-idx3-ubyte", "magic number 0x12340803", "two zero bytes");
    write_file(at("float-idx3-ubyte"), idx(0x0D, {2, 28, 28}, Bytes(2 * 28 * 28 * 4)));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("float-idx3-ubyte"), at("labels2-idx1-ubyte")); }),
                   "float-idx3-ubyte", "data type 0x0D (float32)");
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("labels2-idx1-ubyte"), at("labels2-idx1-ubyte")); }),
                   "labels2-idx1-ubyte", "gives 1 dimension(s) but an images file has 3", "swapped");
  }

  void idx_truncated() {
    Bytes file = idx(0x08, {5, 28, 28}, mnist_pixels(5, 28, 28));
    file.resize(16 + 1000);
    write_file(at("short-idx3-ubyte"), file);
    write_file(at("labels5-idx1-ubyte"), idx(0x08, {5}, mnist_labels(5)));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("short-idx3-ubyte"), at("labels5-idx1-ubyte")); }),
                   "short-idx3-ubyte: header says 5 images of 28×28 but the file holds 1000 bytes of pixel data "
                   "(3920 expected)");
    Bytes header_only = idx(0x08, {5, 28, 28}, {});
    header_only.resize(10);  // cut inside the dimensions
    write_file(at("cut-idx3-ubyte"), header_only);
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("cut-idx3-ubyte"), at("labels5-idx1-ubyte")); }), "cut-idx3-ubyte",
                   "file ends inside the size of dimension 1");
    // A gzip stream cut short is reported as such, not read as a short file.
    write_gz(at("full.gz"), idx(0x08, {5}, mnist_labels(5)));
    Bytes gz_bytes = read_file(at("full.gz"));
    gz_bytes.resize(gz_bytes.size() - 12);
    write_file(at("cut-labels-idx1-ubyte.gz"), gz_bytes);
    EXPECT_MESSAGE(error_of([&] { load_idx(at("cut-labels-idx1-ubyte.gz")); }), "cut-labels-idx1-ubyte.gz",
                   "corrupt gzip data");
  }

  void idx_with_lying_dimensions() {
    // 4 G × 65535 × 65535 bytes: refused from the header alone.
    write_file(at("huge-idx3-ubyte"), idx(0x08, {0xFFFFFFFFu, 65535, 65535}, Bytes(100)));
    write_file(at("labels1-idx1-ubyte"), idx(0x08, {1}, {0}));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("huge-idx3-ubyte"), at("labels1-idx1-ubyte")); }),
                   "huge-idx3-ubyte", "not a real dataset");
    // 10 million images claimed (7.8 GB): within the limit, so only the data can refute it,
    // and reading it must not reserve the claimed size.
    write_file(at("claims-idx3-ubyte"), idx(0x08, {10000000, 28, 28}, mnist_pixels(1, 28, 28)));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("claims-idx3-ubyte"), at("labels1-idx1-ubyte")); }),
                   "claims-idx3-ubyte: header says 10000000 images of 28×28 but the file holds 784 bytes");
    write_file(at("long-idx1-ubyte"), idx(0x08, {3}, {0, 1, 2, 3}));
    EXPECT_MESSAGE(error_of([&] { load_idx(at("long-idx1-ubyte")); }), "long-idx1-ubyte",
                   "header says dimensions [3] (3 bytes) but the file holds more data");
    write_file(at("one-idx3-ubyte"), idx(0x08, {1, 28, 28}, mnist_pixels(1, 28, 28)));
    write_file(at("two-idx1-ubyte"), idx(0x08, {2}, mnist_labels(2)));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("one-idx3-ubyte"), at("two-idx1-ubyte")); }),
                   "two-idx1-ubyte: holds 2 labels but", "one-idx3-ubyte holds 1 images");
    write_file(at("bad-label-idx1-ubyte"), idx(0x08, {1}, {10}));
    EXPECT_MESSAGE(error_of([&] { load_mnist(at("one-idx3-ubyte"), at("bad-label-idx1-ubyte")); }),
                   "bad-label-idx1-ubyte: label 0 is 10 but the dataset has 10 classes");
  }

  void cifar_size_not_a_record_multiple() {
    write_file(at("cut_batch.bin"), Bytes(3073 * 2 + 100, 1));
    EXPECT_MESSAGE(error_of([&] { load_cifar10({at("cut_batch.bin")}); }), "cut_batch.bin",
                   "file size 6246 bytes is not a multiple of the 3073-byte", "cut off after 100 bytes");
    write_file(at("cifar100.bin"), Bytes(3074 * 3, 1));
    EXPECT_MESSAGE(error_of([&] { load_cifar10({at("cifar100.bin")}); }), "cifar100.bin", "CIFAR-100");
    Bytes bad_label(3073 * 2, 0);
    bad_label[3073] = 10;
    write_file(at("label_batch.bin"), bad_label);
    EXPECT_MESSAGE(error_of([&] { load_cifar10({at("label_batch.bin")}); }),
                   "label_batch.bin: record 1 has label byte 10");
    EXPECT_MESSAGE(error_of([&] { load_cifar10_folder(at("no-such-folder"), true); }), "no-such-folder",
                   "not a folder");
  }

  void csv_ragged_rows() {
    write_text(at("ragged.csv"), "a,b,label\n1,2,0\n3,1\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("ragged.csv")); }), "ragged.csv",
                   "line 3 has 2 columns but line 1 has 3");
    write_text(at("ragged_plain.csv"), "\n1,2,0\n3,4,5,1\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("ragged_plain.csv")); }), "ragged_plain.csv",
                   "line 3 has 4 columns but line 2 has 3");
    write_text(at("quote.csv"), "1,\"2,0\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("quote.csv")); }), "quote.csv", "line 1, column 2",
                   "no closing quote");
  }

  void csv_non_numeric_cells() {
    write_text(at("text.csv"), "a,b,label\n1,2,0\n3,abc,1\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("text.csv")); }), "text.csv",
                   "line 3, column 2 ('b'): 'abc' is not a number");
    write_text(at("empty.csv"), "1,,0\n1,2,1\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("empty.csv")); }), "empty.csv", "line 1, column 2",
                   "the cell is empty");
    write_text(at("nan.csv"), "1,2,0\n1,nan,1\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("nan.csv")); }), "nan.csv", "line 2, column 2",
                   "'nan' is not a finite number");
    write_text(at("regression.csv"), "1,2,0.5\n1,2,high\n");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("regression.csv"), {.regression = true}); }), "regression.csv",
                   "line 2, column 3: 'high' is not a number");
    EXPECT_MESSAGE(error_of([&] { load_csv(at("missing.csv")); }), "missing.csv: no such file");
  }

  void corrupt_png() {
    Bytes png = encode_png(16, 16, 3, gradient(16, 16, 3, 4));
    // Damage the compressed pixel data inside IDAT (its CRC no longer matches).
    const std::string text(png.begin(), png.end());
    const size_t idat = text.find("IDAT");
    QVERIFY(idat != std::string::npos);
    for (size_t i = idat + 6; i < idat + 14; ++i) png[i] ^= 0x5A;
    const std::string root = at("broken_png");
    QDir().mkpath(QString::fromStdString(root + "/only"));
    write_file(root + "/only/bad.png", png);
    EXPECT_MESSAGE(error_of([&] { load_image_folder(root); }), "only/bad.png", "corrupt PNG", "IDAT");
    write_text(root + "/only/bad.png", "plain text with a png name");
    EXPECT_MESSAGE(error_of([&] { load_image_folder(root); }), "only/bad.png", "not a PNG or JPEG file",
                   "first bytes 70 6C 61");
  }

  void truncated_jpeg() {
    Bytes jpeg = encode_jpeg(64, 64, 3, gradient(64, 64, 3, 5));
    jpeg.resize(jpeg.size() * 6 / 10);
    write_file(at("cut.jpg"), jpeg);
    EXPECT_MESSAGE(error_of([&] { load_image(at("cut.jpg")); }), "cut.jpg", "corrupt JPEG",
                   "Premature end of JPEG file");
    const std::string root = at("empty_class");
    QDir().mkpath(QString::fromStdString(root + "/cats"));
    QDir().mkpath(QString::fromStdString(root + "/dogs"));
    write_file(root + "/cats/x.jpg", encode_jpeg(8, 8, 1, gradient(8, 8, 1, 1)));
    EXPECT_MESSAGE(error_of([&] { load_image_folder(root); }), "dogs", "holds no .png, .jpg or .jpeg images");
  }

  void npy_pair_length_mismatch() {
    save_npy(at("x100.npy"), zeros({100, 2}));
    save_npy(at("y99.npy"), tensor(std::vector<int64_t>(99, 1), {99}));
    EXPECT_MESSAGE(error_of([&] { load_npy_pair(at("x100.npy"), at("y99.npy")); }),
                   "y99.npy: holds 99 targets but", "x100.npy holds 100 samples");
    save_npy(at("y2d.npy"), tensor(std::vector<int64_t>(200, 1), {100, 2}));
    EXPECT_MESSAGE(error_of([&] { load_npy_pair(at("x100.npy"), at("y2d.npy")); }), "y2d.npy",
                   "class-index targets must be 1-D");
    save_npy(at("yneg.npy"), tensor(std::vector<int64_t>(100, -1), {100}));
    EXPECT_MESSAGE(error_of([&] { load_npy_pair(at("x100.npy"), at("yneg.npy")); }), "yneg.npy",
                   "cannot be negative");
  }

  void mutated_files_fail_cleanly() {
    // Random byte flips and cuts of valid files: every load must either succeed or throw
    // nl::Error — no crash, no other exception type, no runaway allocation.
    Bytes cifar;
    for (int r = 0; r < 2; ++r) {
      cifar.push_back(static_cast<uint8_t>(r));
      Bytes px = gradient(32, 32, 3, r);
      cifar.insert(cifar.end(), px.begin(), px.end());
    }
    const std::string csv = "a,b,label\n1,2,x\n3,4,y\n\"5\",6e1,x\n";
    write_gz(at("fuzz-source.gz"), idx(0x08, {2, 28, 28}, mnist_pixels(2, 28, 28)));
    struct Case {
      const char* name;
      Bytes bytes;
      std::function<void(const std::string&)> load;
    };
    const std::vector<Case> cases = {
        {"fuzz-idx3-ubyte", idx(0x08, {2, 28, 28}, mnist_pixels(2, 28, 28)), [](auto& p) { load_idx(p); }},
        {"fuzz-idx.gz", read_file(at("fuzz-source.gz")), [](auto& p) { load_idx(p); }},
        {"fuzz_batch.bin", cifar, [](auto& p) { load_cifar10({p}); }},
        {"fuzz.csv", Bytes(csv.begin(), csv.end()), [](auto& p) { load_csv(p); }},
        {"fuzz.png", encode_png(16, 16, 3, gradient(16, 16, 3, 6)), [](auto& p) { load_image(p); }},
        {"fuzz.jpg", encode_jpeg(16, 16, 3, gradient(16, 16, 3, 7)), [](auto& p) { load_image(p); }},
    };
    Generator gen(17);
    for (const Case& c : cases) {
      int refused = 0;
      for (int trial = 0; trial < 80; ++trial) {
        Bytes mutated = c.bytes;
        const int flips = static_cast<int>(random_below(gen, 4));
        for (int f = 0; f < flips; ++f) mutated[random_below(gen, mutated.size())] ^= 1 + random_below(gen, 255);
        if (flips == 0 || random_below(gen, 3) == 0) mutated.resize(random_below(gen, mutated.size()));
        const std::string path = at(c.name);
        write_file(path, mutated);
        try {
          c.load(path);
        } catch (const Error& e) {
          ++refused;
          QVERIFY2(std::string(e.what()).find(c.name) != std::string::npos, e.what());
        } catch (const std::exception& e) {
          QFAIL((std::string(c.name) + ": not an nl::Error: " + e.what()).c_str());
        }
      }
      QVERIFY2(refused > 0, c.name);  // the cuts alone must be caught
    }
  }
};

QTEST_APPLESS_MAIN(TestDataReaders)
#include "test_data_readers.moc"
