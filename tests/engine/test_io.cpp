// Tests for the .npy and safetensors readers and writers: round trips of every dtype and
// layout, files exactly as NumPy and the safetensors library write them, one test per kind
// of malformed file (each checking the message names the problem), atomic saves, and a
// mutation fuzz loop that must only ever produce nl::Error.
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#ifndef _WIN32
#include <csignal>
#include <sys/resource.h>
#endif

#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "tests/engine/testing.h"

using namespace nl;
using Bytes = std::vector<uint8_t>;

namespace {

const DType kAllDTypes[] = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16,
                            DType::Int64,   DType::Int32,   DType::UInt8,   DType::Bool};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The row-major bytes of a tensor: comparing these is exact for every dtype, NaNs included.
Bytes bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  const uint8_t* p = static_cast<const uint8_t*>(c.raw_data());
  return Bytes(p, p + c.numel() * c.element_size());
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  Tensor c = t.contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

// A tensor of `dtype` holding varied, valid values (bools 0/1, halves from real floats).
Tensor sample_tensor(DType dtype, const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  int64_t n = shape.numel();
  Bytes raw(static_cast<size_t>(n) * dtype_size(dtype));
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* p = raw.data() + i * dtype_size(dtype);
    float f = normal(rng);
    auto put = [&](auto v) { std::memcpy(p, &v, sizeof v); };
    switch (dtype) {
      case DType::Float32: put(f); break;
      case DType::Float64: put(static_cast<double>(f) / 7.0); break;
      case DType::Float16: put(float_to_half(f)); break;
      case DType::BFloat16: put(float_to_bfloat16(f)); break;
      case DType::Int64: put(static_cast<int64_t>(rng()) * 4097 - (int64_t(1) << 40)); break;
      case DType::Int32: put(static_cast<int32_t>(rng())); break;
      case DType::UInt8: put(static_cast<uint8_t>(rng())); break;
      case DType::Bool: put(static_cast<uint8_t>(rng() & 1)); break;
    }
  }
  return from_buffer(raw.data(), raw.size(), shape, dtype);
}

// A NumPy header: the literal preamble and dict NumPy writes, padded with spaces to
// `total` bytes including the final '\n' (the total is NumPy's, not computed here).
std::string numpy_header(const std::string& preamble, const std::string& dict, size_t total) {
  std::string h = preamble + dict;
  h.append(total - 1 - h.size(), ' ');
  return h + '\n';
}

template <class T>
std::string raw(std::initializer_list<T> values) {
  std::string s;
  for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof v);
  return s;
}

// A safetensors image: 8-byte little-endian length, the JSON as given, then the data.
Bytes safetensors_image(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<uint64_t>(json.size()) >> (8 * i));
  return to_bytes(out + json + data);
}

std::string npy_error(const std::string& image) {
  return testing::error_of([&] { load_npy_bytes(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "t.npy"); });
}

std::string st_error(const Bytes& image) {
  return testing::error_of([&] { load_safetensors_bytes(image.data(), image.size(), "w.safetensors"); });
}
std::string st_error(const std::string& json, size_t data_size) {
  return st_error(safetensors_image(json, std::string(data_size, '\0')));
}

}  // namespace

// Checks that `message` starts with `file` and contains every one of `parts`.
#define EXPECT_ERROR(message, file, ...)                                                   \
  do {                                                                                     \
    const std::string m_ = (message);                                                      \
    QVERIFY2(!m_.empty(), "expected an nl::Error, got none");                              \
    QVERIFY2(m_.rfind(std::string(file) + ": ", 0) == 0, ("no file name in: " + m_).c_str()); \
    for (const char* part : {__VA_ARGS__})                                                 \
      QVERIFY2(m_.find(part) != std::string::npos, ("'" + std::string(part) + "' not in: " + m_).c_str()); \
  } while (0)

class TestIo : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir dir_;
  std::string path(const char* name) const { return dir_.filePath(name).toStdString(); }

  // The names in the temporary folder, to check that failed saves leave no litter.
  QStringList files() const { return QDir(dir_.path()).entryList(QDir::Files | QDir::Hidden, QDir::Name); }

  static void check_same(const Tensor& loaded, const Tensor& expected) {
    QCOMPARE(loaded.dtype(), expected.dtype());
    QCOMPARE(loaded.shape(), expected.shape());
    QVERIFY(loaded.device().is_cpu());
    // Row-major strides (not is_contiguous(), which core answers false for some empty shapes).
    QCOMPARE(loaded.strides(), contiguous_strides(loaded.shape()));
    QCOMPARE(loaded.offset(), int64_t(0));
    QVERIFY(bytes_of(loaded) == bytes_of(expected));
  }

 private slots:
  void initTestCase() { QVERIFY(dir_.isValid()); }

  // ---- .npy: round trips -------------------------------------------------------------------

  void npyRoundTripEveryDtypeAndShape() {
    const Shape shapes[] = {{2, 3, 4}, {5}, {}, {0, 3}, {2, 0}, {1, 1, 1, 1, 1, 1, 1, 7}};
    uint32_t seed = 1;
    for (DType dtype : kAllDTypes) {
      if (dtype == DType::BFloat16) continue;  // no NumPy type: see npyRefusesBFloat16
      for (const Shape& shape : shapes) {
        Tensor t = sample_tensor(dtype, shape, seed++);
        save_npy(path("rt.npy"), t);
        Tensor back = load_npy(path("rt.npy"));
        check_same(back, t);
        Bytes file = read_file(path("rt.npy"));
        QCOMPARE(file.size() - t.numel() * t.element_size(), size_t(128));  // 64-aligned header
      }
    }
  }

  void npyRoundTripNonContiguous() {
    Tensor base = sample_tensor(DType::Float32, {4, 6}, 11);
    const Tensor views[] = {base.t(), base.slice(1, 1, 6, 2), base.select(1, 3),
                            sample_tensor(DType::Int64, {3, 1}, 12).expand({3, 5}),
                            sample_tensor(DType::Float16, {2, 3, 4}, 13).permute({2, 0, 1})};
    for (const Tensor& v : views) {
      save_npy(path("view.npy"), v);
      check_same(load_npy(path("view.npy")), v.contiguous());
    }
  }

  void npySaveMatchesNumpyBytes() {
    // np.save(f, np.arange(12, dtype=np.float32).reshape(3, 4)) with NumPy >= 1.24.
    std::vector<float> values(12);
    for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i);
    save_npy(path("arange.npy"), from_buffer(values.data(), 48, {3, 4}, DType::Float32));
    std::string expected = numpy_header(std::string("\x93NUMPY\x01\x00\x76\x00", 10),
                                        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 128);
    expected.append(reinterpret_cast<const char*>(values.data()), 48);
    QVERIFY(read_file(path("arange.npy")) == to_bytes(expected));
  }

  void npyRefusesBFloat16() {
    std::string msg = testing::error_of([&] { save_npy(path("bf.npy"), sample_tensor(DType::BFloat16, {2}, 3)); });
    EXPECT_ERROR(msg, path("bf.npy"), "bfloat16", "convert");
    QVERIFY(!QFile::exists(QString::fromStdString(path("bf.npy"))));
  }

  // ---- .npy: files as NumPy writes them ------------------------------------------------------

  void npyReadsNumpyFiles() {
    const std::string v1 = std::string("\x93NUMPY\x01\x00\x76\x00", 10);
    {  // np.arange(12, dtype='<f4').reshape(3, 4)
      std::string f = numpy_header(v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 128);
      for (int i = 0; i < 12; ++i) f += raw<float>({i * 0.5f});
      Tensor t = load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "a.npy");
      QCOMPARE(t.shape(), Shape({3, 4}));
      QCOMPARE(values_of<float>(t)[7], 3.5f);
    }
    {  // np.asfortranarray(np.arange(6).reshape(2, 3)): column-major data 0 3 1 4 2 5
      std::string f = numpy_header(v1, "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", 128);
      f += raw<int64_t>({0, 3, 1, 4, 2, 5});
      Tensor t = load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "fortran.npy");
      QCOMPARE(t.shape(), Shape({2, 3}));
      QVERIFY(t.is_contiguous());
      QCOMPARE(values_of<int64_t>(t), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    }
    {  // format.write_array(f, np.array([1.5, -2.0, 3.25]), version=(2, 0))
      std::string f = numpy_header(std::string("\x93NUMPY\x02\x00\x74\x00\x00\x00", 12),
                                   "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 128);
      f += raw<double>({1.5, -2.0, 3.25});
      Tensor t = load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "v2.npy");
      QCOMPARE(t.dtype(), DType::Float64);
      QCOMPARE(values_of<double>(t), (std::vector<double>{1.5, -2.0, 3.25}));
    }
    {  // version (3, 0), the UTF-8 header variant
      std::string f = numpy_header(std::string("\x93NUMPY\x03\x00\x74\x00\x00\x00", 12),
                                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 128);
      f += raw<float>({1, 2, 3, 4});
      QCOMPARE(values_of<float>(load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "v3.npy")),
               (std::vector<float>{1, 2, 3, 4}));
    }
    {  // np.array([1, 2, -3], dtype='>i4'): big-endian, swapped on load
      std::string f = numpy_header(v1, "{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", 128);
      f += std::string("\x00\x00\x00\x01\x00\x00\x00\x02\xff\xff\xff\xfd", 12);
      QCOMPARE(values_of<int32_t>(load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "be.npy")),
               (std::vector<int32_t>{1, 2, -3}));
    }
    {  // np.float64(3.5): a 0-d array, no growth padding
      std::string f = numpy_header(v1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 128);
      f += raw<double>({3.5});
      Tensor t = load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "scalar.npy");
      QCOMPARE(t.dim(), 0);
      QCOMPARE(values_of<double>(t), std::vector<double>{3.5});
    }
    {  // np.array([True, False, True]) and np.array([1, -2.5, 65504], dtype=np.float16)
      std::string b = numpy_header(v1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 128) +
                      std::string("\x01\x00\x01", 3);
      Tensor tb = load_npy_bytes(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "b.npy");
      QCOMPARE(tb.dtype(), DType::Bool);
      QCOMPARE(values_of<uint8_t>(tb), (std::vector<uint8_t>{1, 0, 1}));
      std::string h = numpy_header(v1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", 128) +
                      raw<uint16_t>({0x3c00, 0xc100, 0x7bff});
      Tensor th = load_npy_bytes(reinterpret_cast<const uint8_t*>(h.data()), h.size(), "h.npy");
      QCOMPARE(th.dtype(), DType::Float16);
      QCOMPARE(values_of<uint16_t>(th), (std::vector<uint16_t>{0x3c00, 0xc100, 0x7bff}));
    }
    {  // Python 2 era NumPy: 16-byte alignment, "L" suffixes, no growth padding
      std::string f = numpy_header(v1.substr(0, 8) + std::string("\x46\x00", 2),
                                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", 80);
      f += raw<float>({7, 8});
      QCOMPARE(load_npy_bytes(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "py2.npy").shape(), Shape({2, 1}));
    }
  }

  // ---- .npy: malformed files ----------------------------------------------------------------

  void npyBadMagic() {
    EXPECT_ERROR(npy_error(std::string("\x93NUMPZ\x01\x00\x10\x00{}", 12)), "t.npy", "not a .npy file", "magic");
    EXPECT_ERROR(npy_error("PK\x03\x04"), "t.npy", "not a .npy file");
    EXPECT_ERROR(npy_error(std::string("\x93NUMPY\x04\x00\x10\x00", 10)), "t.npy", "version 4.0");
  }

  void npyBadHeaderDict() {
    const std::string v1 = std::string("\x93NUMPY\x01\x00", 8);
    auto with_dict = [&](const std::string& dict) {
      std::string d = dict + "\n";
      return npy_error(v1 + char(d.size()) + '\0' + d);
    };
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'shape': (2,), }"), "t.npy", "no 'fortran_order' key");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"), "t.npy",
                 "unexpected key 'x'");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"), "t.npy",
                 "'descr' appears twice");
    EXPECT_ERROR(with_dict("['descr', '<f4']"), "t.npy", "bad header dict", "dict");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}"), "t.npy", "'fortran_order'",
                 "True or False");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}"), "t.npy", "not a tuple");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': [3]}"), "t.npy", "'shape'", "tuple");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}"), "t.npy", "'shape'",
                 "not an integer");
    EXPECT_ERROR(with_dict("{'descr' '<f4', 'fortran_order': False, 'shape': ()}"), "t.npy", "bad header dict",
                 "expected ':'");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x"), "t.npy", "after the closing");
    EXPECT_ERROR(with_dict("{'descr': '<c8', 'fortran_order': False, 'shape': ()}"), "t.npy", "'descr'", "'<c8'",
                 "not supported");
    EXPECT_ERROR(with_dict("{'descr': '|f4', 'fortran_order': False, 'shape': ()}"), "t.npy", "no byte order");
    EXPECT_ERROR(with_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}"), "t.npy",
                 "structured");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}"), "t.npy",
                 "dimension 1 is -3", "non-negative");
    EXPECT_ERROR(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}"), "t.npy",
                 "more than 8 dimensions");
  }

  void npyTruncatedHeaderAndData() {
    std::string good = numpy_header(std::string("\x93NUMPY\x01\x00\x76\x00", 10),
                                     "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 128) +
                       std::string(48, '\0');
    EXPECT_ERROR(npy_error(good.substr(0, 100)), "t.npy", "truncated", "118 bytes", "only 90");
    EXPECT_ERROR(npy_error(good.substr(0, 9)), "t.npy", "too short");
    EXPECT_ERROR(npy_error(good.substr(0, 160)), "t.npy", "truncated data", "[3, 4]", "needs 48 bytes",
                 "has 32");
    EXPECT_ERROR(npy_error(good + "xyz"), "t.npy", "3 unexpected bytes after the data");
    std::string v2 = std::string("\x93NUMPY\x02\x00\x01\x00\x01\x00", 12);  // header length 65537
    EXPECT_ERROR(npy_error(v2 + std::string(65537, ' ')), "t.npy", "header length 65537", "limit");
  }

  void npyHugeShape() {
    const std::string v1 = std::string("\x93NUMPY\x01\x00", 8);
    auto with_shape = [&](const std::string& shape) {
      std::string d = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }\n";
      return npy_error(v1 + char(d.size()) + '\0' + d + std::string(16, '\0'));
    };
    EXPECT_ERROR(with_shape("(4611686018427387904, 4611686018427387904)"), "t.npy", "overflows int64");
    EXPECT_ERROR(with_shape("(1000000000000,)"), "t.npy", "truncated data", "needs 8000000000000 bytes");
    EXPECT_ERROR(with_shape("(9223372036854775807,)"), "t.npy", "exceed 2^63 bytes");
    EXPECT_ERROR(with_shape("(99999999999999999999999,)"), "t.npy", "does not fit in int64");
    // A zero dimension makes the data empty, but the others must still be sane.
    EXPECT_ERROR(with_shape("(0, 4611686018427387904, 4611686018427387904)"), "t.npy", "overflows int64");
  }

  void npyInvalidBoolByte() {
    std::string d = "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n";
    std::string f = std::string("\x93NUMPY\x01\x00", 8) + char(d.size()) + '\0' + d + std::string("\x01\x00\x02", 3);
    EXPECT_ERROR(npy_error(f), "t.npy", "element 2", "byte value 2");
  }

  void fileErrorsNameThePath() {
    EXPECT_ERROR(testing::error_of([&] { load_npy(path("missing.npy")); }), path("missing.npy"), "cannot open");
    EXPECT_ERROR(testing::error_of([&] { load_npy(dir_.path().toStdString()); }), dir_.path().toStdString(),
                 "not a regular file");
    EXPECT_ERROR(testing::error_of([&] { save_npy(path("no/such/dir/x.npy"), sample_tensor(DType::Float32, {2}, 1)); }),
                 path("no/such/dir/x.npy"), "temporary");
    // Truncated on disk: the same checks run through the file reader.
    save_npy(path("cut.npy"), sample_tensor(DType::Float32, {8}, 2));
    Bytes npy = read_file(path("cut.npy"));
    write_file(path("cut.npy"), Bytes(npy.begin(), npy.end() - 4));
    EXPECT_ERROR(testing::error_of([&] { load_npy(path("cut.npy")); }), path("cut.npy"), "truncated data");
    save_safetensors(path("cut.safetensors"), {{"w", sample_tensor(DType::Float32, {8}, 3)}});
    Bytes st = read_file(path("cut.safetensors"));
    write_file(path("cut.safetensors"), Bytes(st.begin(), st.end() - 4));
    EXPECT_ERROR(testing::error_of([&] { load_safetensors(path("cut.safetensors")); }), path("cut.safetensors"),
                 "tensor 'w'", "past the end");
  }

  void pathsAreUtf8AndPermissionsSurviveSaves() {
    const std::string name = path("tensör ☃.npy");
    Tensor t = sample_tensor(DType::Int32, {3}, 4);
    save_npy(name, t);
    QVERIFY(QFile::exists(QString::fromStdString(name)));
    check_same(load_npy(name), t);
#ifndef _WIN32
    QFile file(QString::fromStdString(name));
    QVERIFY(file.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
    save_npy(name, t);
    QCOMPARE(QFile(QString::fromStdString(name)).permissions() & (QFile::ReadGroup | QFile::ReadOther),
             QFileDevice::Permissions());
#endif
  }

  // ---- safetensors: round trips -------------------------------------------------------------

  void safetensorsRoundTripEveryDtype() {
    std::map<std::string, Tensor> tensors;
    uint32_t seed = 100;
    for (DType dtype : kAllDTypes) {
      std::string name = dtype_name(dtype);
      tensors[name + ".matrix"] = sample_tensor(dtype, {3, 5}, seed++);
      tensors[name + ".scalar"] = sample_tensor(dtype, {}, seed++);
      tensors[name + ".empty"] = sample_tensor(dtype, {0, 4}, seed++);
      tensors[name + ".view"] = sample_tensor(dtype, {4, 3, 2}, seed++).permute({2, 0, 1}).slice(2, 0, 3, 2);
    }
    save_safetensors(path("all.safetensors"), tensors);
    std::map<std::string, std::string> meta = {{"stale", "entry"}};
    auto back = load_safetensors(path("all.safetensors"), &meta);
    QVERIFY(meta.empty());  // cleared: the file has no metadata
    QCOMPARE(back.size(), tensors.size());
    for (const auto& [name, t] : tensors) {
      QVERIFY2(back.count(name), name.c_str());
      check_same(back.at(name), t);
    }
  }

  void safetensorsMetadataAndNamesRoundTrip() {
    std::map<std::string, std::string> meta = {
        {"format", "pt"}, {"quote\"back\\slash", "line\nbreak\ttab\x01"}, {"unicode é 🙂", "値"}, {"empty", ""}};
    std::map<std::string, Tensor> tensors = {{"layer.0/weight é", sample_tensor(DType::Float32, {2, 2}, 1)},
                                             {"\"odd\" name\n", sample_tensor(DType::UInt8, {3}, 2)}};
    save_safetensors(path("meta.safetensors"), tensors, meta);
    std::map<std::string, std::string> meta_back;
    auto back = load_safetensors(path("meta.safetensors"), &meta_back);
    QVERIFY(meta_back == meta);
    QCOMPARE(back.size(), size_t(2));
    check_same(back.at("layer.0/weight é"), tensors.at("layer.0/weight é"));
    check_same(back.at("\"odd\" name\n"), tensors.at("\"odd\" name\n"));
    // An empty file of tensors is valid too.
    save_safetensors(path("none.safetensors"), {});
    QVERIFY(load_safetensors(path("none.safetensors")).empty());
  }

  void safetensorsWriterLayout() {
    std::map<std::string, Tensor> tensors = {{"b", sample_tensor(DType::Int64, {1}, 1)},
                                             {"a", sample_tensor(DType::Float32, {2}, 2)}};
    save_safetensors(path("layout.safetensors"), tensors, {{"k", "v"}});
    Bytes file = read_file(path("layout.safetensors"));
    std::string json = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}";
    json.append((8 - json.size() % 8) % 8, ' ');
    std::string data;
    for (const char* name : {"a", "b"}) {
      Bytes b = bytes_of(tensors.at(name));
      data.append(b.begin(), b.end());
    }
    QCOMPARE(json.size() % 8, size_t(0));
    QVERIFY(file == safetensors_image(json, data));
  }

  void safetensorsReadsLibraryOutput() {
    // What safetensors.torch.save_file writes (compact JSON, metadata first), plus the
    // whitespace, escapes and key order other writers use.
    std::string data = raw<float>({1, 2, 3, 4}) + raw<uint16_t>({0x3f80, 0xc000});
    std::string json = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],"
                       "\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]}}";
    std::map<std::string, std::string> meta;
    Bytes image = safetensors_image(json + "    ", data);
    auto t = load_safetensors_bytes(image.data(), image.size(), "lib.safetensors", &meta);
    QCOMPARE(meta.at("format"), std::string("pt"));
    QCOMPARE(values_of<float>(t.at("w")), (std::vector<float>{1, 2, 3, 4}));
    QCOMPARE(values_of<uint16_t>(t.at("b")), (std::vector<uint16_t>{0x3f80, 0xc000}));
    std::string spaced = "{ \"caf\\u00e9\\ud83d\\ude42\" : { \"shape\" : [ ] ,\n\t\"data_offsets\" : [ 0 , 4 ] , "
                         "\"dtype\" : \"I32\" } }";
    image = safetensors_image(spaced, raw<int32_t>({-7}));
    t = load_safetensors_bytes(image.data(), image.size(), "spaced.safetensors");
    QCOMPARE(values_of<int32_t>(t.at("caf\xc3\xa9\xf0\x9f\x99\x82")), std::vector<int32_t>{-7});
  }

  // ---- safetensors: malformed files ---------------------------------------------------------

  void safetensorsTruncatedHeaderLength() {
    EXPECT_ERROR(st_error(Bytes{}), "w.safetensors", "only 0 bytes", "8-byte header length");
    EXPECT_ERROR(st_error(Bytes{16, 0, 0}), "w.safetensors", "only 3 bytes");
  }

  void safetensorsHeaderLengthHuge() {
    Bytes huge = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    EXPECT_ERROR(st_error(huge), "w.safetensors", "header length 18446744073709551615", "limit");
    Bytes past_end = safetensors_image("{}", "");
    past_end[0] = 200;  // 200 bytes claimed, 2 present
    EXPECT_ERROR(st_error(past_end), "w.safetensors", "truncated", "200 bytes", "only 2");
  }

  void safetensorsTruncatedJson() {
    std::string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    EXPECT_ERROR(st_error(json.substr(0, 30), 4), "w.safetensors", "bad JSON");
    EXPECT_ERROR(st_error(json.substr(0, 3), 0), "w.safetensors", "bad JSON", "unterminated string");
    EXPECT_ERROR(st_error(json.substr(0, 5), 0), "w.safetensors", "tensor 'a' must be an object", "end of the header");
    EXPECT_ERROR(st_error("", 0), "w.safetensors", "must be a JSON object");
  }

  void safetensorsBadJson() {
    const std::string entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    EXPECT_ERROR(st_error("{\"a\":" + entry + ",}", 4), "w.safetensors", "bad JSON", "trailing comma");
    EXPECT_ERROR(st_error("{'a':" + entry + "}", 4), "w.safetensors", "bad JSON", "string key");
    EXPECT_ERROR(st_error("{\"a\":" + entry + "} x", 4), "w.safetensors", "bad JSON", "after the top-level");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4), "w.safetensors",
                 "leading zeros");
    EXPECT_ERROR(st_error("{\"a\nb\":" + entry + "}", 4), "w.safetensors", "control character");
    EXPECT_ERROR(st_error("{\"a\xff\":" + entry + "}", 4), "w.safetensors", "invalid UTF-8");
    EXPECT_ERROR(st_error("{\"\\ud800\":" + entry + "}", 4), "w.safetensors", "surrogate");
    EXPECT_ERROR(st_error("{\"\\q\":" + entry + "}", 4), "w.safetensors", "invalid escape");
    EXPECT_ERROR(st_error(" {\"a\":" + entry + "}", 4), "w.safetensors", "starting with '{'");
    EXPECT_ERROR(st_error("{\"a\":" + entry + "", 4), "w.safetensors", "bad JSON", "expected ',' or '}'");
  }

  void safetensorsOffsetsOutOfBounds() {
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "w.safetensors",
                 "tensor 'a'", "[0, 8]", "past the end of the data buffer (4 bytes)");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8), "w.safetensors",
                 "tensor 'a'", "reversed");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,"
                          "18446744073709551616]}}", 4),
                 "w.safetensors", "data_offsets'[1]", "does not fit in 64 bits");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4), "w.safetensors",
                 "tensor 'a': 'data_offsets'", "exactly 2");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4), "w.safetensors",
                 "exactly 2");
  }

  void safetensorsOverlap() {
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
                 "w.safetensors", "'a' [0, 8]", "'b' [4, 12]", "overlap");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                          "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4),
                 "w.safetensors", "overlap");
  }

  void safetensorsHole() {
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
                 "w.safetensors", "bytes [4, 8)", "belong to no tensor", "'b'");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 10), "w.safetensors",
                 "bytes [4, 10) at the end");
  }

  void safetensorsSizeMismatch() {
    EXPECT_ERROR(st_error("{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,40]}}", 40),
                 "w.safetensors",
                 "w.safetensors: tensor 'fc.weight': data_offsets [0, 40] give 40 bytes but float32 × [3, 4] needs 48");
  }

  void safetensorsBadDims() {
    auto with_shape = [](const std::string& shape) {
      return st_error("{\"x\":{\"dtype\":\"F64\",\"shape\":" + shape + ",\"data_offsets\":[0,8]}}", 8);
    };
    EXPECT_ERROR(with_shape("[1,-3]"), "w.safetensors", "tensor 'x': 'shape'[1] is -3", "negative");
    EXPECT_ERROR(with_shape("[4611686018427387904,4611686018427387904]"), "w.safetensors", "tensor 'x'",
                 "overflows int64");
    EXPECT_ERROR(with_shape("[9223372036854775808]"), "w.safetensors", "'shape'[0]", "does not fit in int64");
    EXPECT_ERROR(with_shape("[1000000000000]"), "w.safetensors", "tensor 'x'", "give 8 bytes",
                 "needs 8000000000000");
    EXPECT_ERROR(with_shape("[1.5]"), "w.safetensors", "'shape'[0] is 1.5, not an integer");
    EXPECT_ERROR(with_shape("[1e3]"), "w.safetensors", "not an integer");
    EXPECT_ERROR(with_shape("[\"1\"]"), "w.safetensors", "'shape'[0] must be an integer but is a string");
    EXPECT_ERROR(with_shape("[1,1,1,1,1,1,1,1,1]"), "w.safetensors", "more than 8 entries");
    EXPECT_ERROR(with_shape("7"), "w.safetensors", "'shape' must be an array");
  }

  void safetensorsUnknownDtype() {
    EXPECT_ERROR(st_error("{\"x\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "w.safetensors",
                 "tensor 'x'", "unknown dtype 'F33'");
    EXPECT_ERROR(st_error("{\"x\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "w.safetensors",
                 "dtype 'I16' is not supported by Netloom");
  }

  void safetensorsDuplicateKey() {
    const std::string entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    EXPECT_ERROR(st_error("{\"a\":" + entry + ",\"a\":" + entry + "}", 4), "w.safetensors",
                 "tensor 'a' appears twice");
    EXPECT_ERROR(st_error("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                 "w.safetensors", "tensor 'a': 'dtype' appears twice");
    EXPECT_ERROR(st_error("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "w.safetensors",
                 "entry 'k' appears twice");
    EXPECT_ERROR(st_error("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "w.safetensors",
                 "\"__metadata__\" appears twice");
  }

  void safetensorsBadEntries() {
    EXPECT_ERROR(st_error("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "w.safetensors",
                 "tensor 'x' has no 'data_offsets'");
    EXPECT_ERROR(st_error("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"y\":1}}", 4),
                 "w.safetensors", "tensor 'x': unexpected field 'y'");
    EXPECT_ERROR(st_error("{\"x\":[1]}", 0), "w.safetensors", "tensor 'x' must be an object");
    EXPECT_ERROR(st_error("{\"__metadata__\":{\"k\":3}}", 0), "w.safetensors", "entry 'k' must be a string");
    Bytes bad_bool = safetensors_image("{\"m\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                                       std::string("\x01\x07", 2));
    EXPECT_ERROR(st_error(bad_bool), "w.safetensors", "tensor 'm'", "element 1", "byte value 7");
  }

  void safetensorsSaveRefusals() {
    EXPECT_ERROR(testing::error_of([&] {
                   save_safetensors(path("r.safetensors"), {{"__metadata__", sample_tensor(DType::Float32, {1}, 1)}});
                 }),
                 path("r.safetensors"), "reserved");
    EXPECT_ERROR(testing::error_of([&] {
                   save_safetensors(path("r.safetensors"), {{"bad\xc3", sample_tensor(DType::Float32, {1}, 1)}});
                 }),
                 path("r.safetensors"), "not valid UTF-8");
    EXPECT_ERROR(testing::error_of([&] { save_safetensors(path("r.safetensors"), {{"u", Tensor()}}); }),
                 path("r.safetensors"), "tensor 'u' is undefined");
    QVERIFY(!QFile::exists(QString::fromStdString(path("r.safetensors"))));
  }

  // ---- Atomic saves ---------------------------------------------------------------------------

  void failedSavesLeavePreviousFileIntact() {
    Tensor original = sample_tensor(DType::Float32, {4}, 5);
    save_npy(path("keep.npy"), original);
    save_safetensors(path("keep.safetensors"), {{"w", original}});
    Bytes npy_before = read_file(path("keep.npy")), st_before = read_file(path("keep.safetensors"));

    // Refused before writing.
    QVERIFY(!testing::error_of([&] { save_npy(path("keep.npy"), sample_tensor(DType::BFloat16, {4}, 1)); }).empty());
#ifndef _WIN32
    // Fails half-way through writing: a file size limit makes write() fail with EFBIG.
    struct rlimit old_limit;
    QVERIFY(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    QVERIFY(setrlimit(RLIMIT_FSIZE, &small) == 0);
    Tensor big = sample_tensor(DType::Float32, {100000}, 6);
    std::string npy_msg = testing::error_of([&] { save_npy(path("keep.npy"), big); });
    std::string st_msg = testing::error_of([&] { save_safetensors(path("keep.safetensors"), {{"w", big}}); });
    setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_ERROR(npy_msg, path("keep.npy"), "writing failed");
    EXPECT_ERROR(st_msg, path("keep.safetensors"), "writing failed");
#endif
    QVERIFY(read_file(path("keep.npy")) == npy_before);
    QVERIFY(read_file(path("keep.safetensors")) == st_before);
    QStringList after = files();
    for (const QString& f : after) QVERIFY2(!f.contains(".tmp-"), qPrintable("left behind: " + f));
    // A successful save replaces the file.
    save_npy(path("keep.npy"), big);
    check_same(load_npy(path("keep.npy")), big);
    QVERIFY(files().size() == after.size());
  }

  // ---- Fuzzing --------------------------------------------------------------------------------

  // Mutates a valid file 2000 ways (bit flips mostly in the header, truncations, rewritten
  // length fields, inserted and deleted bytes); loading must either succeed or throw nl::Error.
  void fuzzMutatedFilesOnlyThrowNlError() {
    std::map<std::string, Tensor> tensors = {{"a", sample_tensor(DType::Float32, {3, 4}, 1)},
                                             {"b", sample_tensor(DType::Bool, {5}, 2)},
                                             {"c", sample_tensor(DType::BFloat16, {2, 1, 2}, 3)},
                                             {"d", sample_tensor(DType::Int64, {0}, 4)}};
    save_safetensors(path("fuzz.safetensors"), tensors, {{"k", "v"}});
    std::string d = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }\n";
    std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(d.size()) + '\0' + d + raw<int32_t>({1, 2, 3, 4, 5, 6});
    fuzz("safetensors", read_file(path("fuzz.safetensors")), [](const Bytes& b) {
      load_safetensors_bytes(b.data(), b.size(), "fuzz.safetensors");
    });
    fuzz("npy", to_bytes(npy), [](const Bytes& b) { load_npy_bytes(b.data(), b.size(), "fuzz.npy"); });
  }

 private:
  static void fuzz(const char* format, const Bytes& valid, const std::function<void(const Bytes&)>& load) {
    std::mt19937 rng(20240601);
    auto below = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
    const size_t header_end = std::min<size_t>(valid.size(), 160);
    int loaded = 0, refused = 0;
    for (int iteration = 0; iteration < 2000; ++iteration) {
      Bytes b = valid;
      int mutations = 1 + static_cast<int>(below(4));
      for (int m = 0; m < mutations && !b.empty(); ++m) {
        switch (below(6)) {
          case 0: case 1: case 2:  // flip bits, mostly in the header where they matter
            b[below(rng() % 4 ? std::min(header_end, b.size()) : b.size())] ^= static_cast<uint8_t>(1u << below(8));
            break;
          case 3: b.resize(below(b.size())); break;
          case 4: b[below(std::min<size_t>(b.size(), 12))] = static_cast<uint8_t>(rng()); break;  // length fields
          case 5:
            if (rng() % 2) b.insert(b.begin() + below(b.size()), static_cast<uint8_t>(rng()));
            else b.erase(b.begin() + below(b.size()));
            break;
        }
      }
      try {
        load(b);
        ++loaded;
      } catch (const Error&) {
        ++refused;
      } catch (const std::exception& e) {
        QFAIL(qPrintable(QString("%1 iteration %2: not an nl::Error: %3").arg(format).arg(iteration).arg(e.what())));
      }
    }
    qInfo("%s: %d mutated files loaded, %d refused", format, loaded, refused);
    QVERIFY(refused > 1000);  // the mutations do reach the validation
  }
};

QTEST_APPLESS_MAIN(TestIo)
#include "test_io.moc"
