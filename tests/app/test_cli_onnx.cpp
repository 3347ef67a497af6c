// `netloom run MODEL.onnx` straight on an ONNX file, as a user runs it: a PyTorch export
// (tests/data/torch_models) gives PyTorch's output within 1e-4; an exported example gives
// exactly what the project gives; a broken file is a clear error naming it.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <fstream>

#include "engine/io/npy.h"
#include "engine/ops/ops.h"

using namespace nl;

namespace {

struct Result {
  int exit_code = -1;
  QString out, err;
};

Result netloom(const QStringList& args) {
  QProcess p;
  p.start(NETLOOM_BINARY, args);
  if (!p.waitForFinished(300000)) {
    p.kill();
    p.waitForFinished();
    return {-1, {}, "timed out"};
  }
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
          QString::fromUtf8(p.readAllStandardError())};
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<float> va = a.to(DType::Float32).to_vector<float>(), vb = b.to(DType::Float32).to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i)
    worst = std::max(worst, std::abs(double(va[i]) - vb[i]) / std::max(1.0, std::abs(double(vb[i]))));
  return worst;
}

}  // namespace

class TestCliOnnx : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void runsAPyTorchExport() {
    QString models = NETLOOM_TEST_DATA_DIR "/torch_models/tiny_resnet";
    QString out = dir_.filePath("resnet_out");
    Result r = netloom({"run", models + "/model.onnx", "--input", "x=" + models + "/input.npy", "--output", out});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    Tensor got = load_npy((out + "/y.npy").toStdString()), want = load_npy((models + "/output.npy").toStdString());
    QVERIFY2(max_rel_diff(got, want) <= 1e-4, qPrintable(QString::number(max_rel_diff(got, want))));
  }

  void exportedExampleRunsLikeTheProject() {
    QString project = NETLOOM_EXAMPLES_DIR "/spirals_mlp.netloom", onnx = dir_.filePath("spirals.onnx");
    Result e = netloom({"export", project, "--output", onnx});
    QVERIFY2(e.exit_code == 0, qPrintable(e.err));
    QString in = dir_.filePath("points.npy");
    save_npy(in.toStdString(), randn({16, 2}));
    Result a = netloom({"run", project, "--input", in, "--output", dir_.filePath("a")});
    Result b = netloom({"run", onnx, "--input", in, "--output", dir_.filePath("b")});
    QVERIFY2(a.exit_code == 0 && b.exit_code == 0, qPrintable(a.err + b.err));
    QDir da(dir_.filePath("a"));
    int compared = 0;
    for (const QString& f : da.entryList({"*.npy"})) {
      Tensor x = load_npy(da.filePath(f).toStdString()), y = load_npy((dir_.filePath("b") + "/" + f).toStdString());
      QVERIFY2(max_rel_diff(y, x) <= 1e-6, qPrintable(f));
      ++compared;
    }
    QVERIFY(compared >= 1);
  }

  void infoAndValidateReadOnnxFiles() {
    QString model = NETLOOM_TEST_DATA_DIR "/torch_models/tiny_resnet/model.onnx";
    Result info = netloom({"info", model});
    QVERIFY2(info.exit_code == 0 && info.out.contains("Conv2d") && info.out.contains("layers"), qPrintable(info.err));
    Result validate = netloom({"validate", model});
    QVERIFY2(validate.exit_code == 0 && validate.out.contains("0 error(s)"), qPrintable(validate.out + validate.err));
  }

  void brokenOnnxIsAClearError() {
    QString bad = dir_.filePath("broken.onnx");
    std::ofstream(bad.toStdString()) << "\x08\x07 not really a model";
    Result r = netloom({"run", bad, "--input", "x.npy", "--output", dir_.filePath("c")});
    QCOMPARE(r.exit_code, 1);
    QVERIFY2(r.err.contains("broken.onnx") && r.err.contains("not"), qPrintable(r.err));
  }
};

QTEST_APPLESS_MAIN(TestCliOnnx)
#include "test_cli_onnx.moc"
