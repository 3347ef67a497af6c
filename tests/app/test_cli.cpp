// The netloom command line end to end, as a user runs it: train the spirals example to ≥ 98%,
// run the trained project on .npy inputs (equal to the trainer's own outputs, bit for bit),
// info/validate, clean Ctrl-C, and clear errors for bad arguments and files.
#include <QtTest/QtTest>

#include <QProcess>
#include <QTemporaryDir>
#include <csignal>
#include <fstream>

#include "engine/io/npy.h"
#include "engine/ops/ops.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"

using namespace nl;

namespace {

const QString kExamples = NETLOOM_EXAMPLES_DIR;

struct Result {
  int exit_code = -1;
  QString out, err;
};

Result netloom(const QStringList& args, int timeout_ms = 600000) {
  QProcess p;
  p.start(NETLOOM_BINARY, args);
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    return {-1, p.readAllStandardOutput(), "timed out"};
  }
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
          QString::fromUtf8(p.readAllStandardError())};
}

// The last "epoch" row of metrics.csv, as name → value.
std::map<std::string, std::string> last_epoch_row(const QString& csv_path) {
  std::ifstream f(csv_path.toStdString());
  std::string header, line, last;
  std::getline(f, header);
  while (std::getline(f, line))
    if (line.rfind("epoch,", 0) == 0) last = line;
  std::map<std::string, std::string> row;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string cell;
    while (std::getline(ss, cell, ',')) out.push_back(cell);
    if (!s.empty() && s.back() == ',') out.push_back("");
    return out;
  };
  auto names = split(header), values = split(last);
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) row[names[i]] = values[i];
  return row;
}

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString trained_;  // the spirals project after `netloom train`

 private slots:
  void trainSpiralsReachesTheTarget() {
    QString out = dir_.filePath("spirals");
    Result r = netloom({"train", kExamples + "/spirals_mlp.netloom", "--out", out, "--plain"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));
    QVERIFY2(r.out.contains("finished: completed"), qPrintable(r.out));
    auto row = last_epoch_row(out + "/metrics.csv");
    QVERIFY2(!row["val_accuracy"].empty(), "no validation accuracy in metrics.csv");
    double accuracy = std::stod(row["val_accuracy"]);
    QVERIFY2(accuracy >= 0.98, qPrintable(QString("validation accuracy %1").arg(accuracy)));
    QVERIFY(QFile::exists(out + "/checkpoints/last.safetensors"));
    QCOMPARE(QDir(out).entryList({"events.out.tfevents.*"}).size(), 1);  // TensorBoard
    trained_ = out + "/spirals_mlp.netloom";
    QVERIFY(QFile::exists(trained_));
  }

  void runReproducesTheTrainedModelExactly() {
    QVERIFY2(!trained_.isEmpty(), "needs the trained project");
    Tensor x = tensor({0.1f, 0.2f, -0.5f, 0.7f, 0.9f, -0.9f, 0.0f, 0.0f}, {4, 2});
    QString in = dir_.filePath("points.npy");
    save_npy(in.toStdString(), x);
    QString out = dir_.filePath("run-out");
    Result r = netloom({"run", trained_, "--input", "x=" + in, "--output", out});
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));

    project::Project p = project::load_project(trained_.toStdString());
    run::GraphExecutor executor;
    auto model = executor.build(p.graph);
    QVERIFY(model->load_weights(p.weights).empty());
    model->eval();
    NoGradGuard no_grad;
    auto expected = model->run({{"x", x}});
    QCOMPARE(expected.size(), size_t{1});
    for (const auto& [name, t] : expected) {
      Tensor got = load_npy((out + "/" + QString::fromStdString(name) + ".npy").toStdString());
      QCOMPARE(got.shape(), t.shape());
      QVERIFY(got.to_vector<float>() == t.to_vector<float>());  // bit for bit
    }
  }

  void infoPrintsTheSummary() {
    Result r = netloom({"info", kExamples + "/shapes_cnn.netloom"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("Conv2d") && r.out.contains("Total") && r.out.contains("N×"), qPrintable(r.out));
  }

  void devicesListsWhatTrainingCanRunOn() {
    Result r = netloom({"devices"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    QVERIFY2(r.out.startsWith("cpu      CPU\n"), qPrintable(r.out));
    // Either GPUs with what they are, or why there is none.
    QVERIFY2(r.out.contains("cuda:0   ") || r.out.contains("no GPU: "), qPrintable(r.out));
    QCOMPARE(netloom({"devices", "extra"}).exit_code, 1);  // as info and validate with a wrong argument count
  }

  void validateExitsOneOnErrorsWithNodeIds() {
    Result ok = netloom({"validate", kExamples + "/shapes_cnn.netloom"});
    QVERIFY2(ok.exit_code == 0, qPrintable(ok.out + ok.err));
    // Break the example: a Linear fed straight from the image Input stays valid, so instead
    // set the first convolution's kernel larger than the image.
    project::Project p = project::load_project((kExamples + "/shapes_cnn.netloom").toStdString());
    graph::NodeId conv = p.graph.nodes_of_type("Conv2d").front();
    QVERIFY(p.graph.set_attribute(conv, "kernel_size", std::vector<int64_t>{64, 64}));
    QString broken = dir_.filePath("broken.netloom");
    project::save_project(p, broken.toStdString());
    Result bad = netloom({"validate", broken});
    QCOMPARE(bad.exit_code, 1);
    QVERIFY2(bad.out.contains(QString("node %1").arg(conv)) && bad.out.contains("error"), qPrintable(bad.out));
  }

  void ctrlCStopsAfterTheStepAndSaves() {
    QString out = dir_.filePath("interrupted");
    QProcess p;
    p.start(NETLOOM_BINARY, {"train", kExamples + "/shapes_cnn.netloom", "--epochs", "50", "--out", out, "--plain"});
    QVERIFY(p.waitForStarted());
    // Wait until training is under way (the first progress line), then interrupt.
    QString seen;
    while (!seen.contains("epoch 1/50") && p.state() == QProcess::Running) {
      p.waitForReadyRead(1000);
      seen += p.readAllStandardOutput();
    }
    ::kill(static_cast<pid_t>(p.processId()), SIGINT);
    QVERIFY2(p.waitForFinished(60000), "did not stop within a minute of Ctrl-C");
    seen += p.readAllStandardOutput();
    QCOMPARE(p.exitCode(), 0);
    QVERIFY2(seen.contains("finished: stopped"), qPrintable(seen));
    QVERIFY(QFile::exists(out + "/checkpoints/last.safetensors"));
    QVERIFY(QFile::exists(out + "/shapes_cnn.netloom"));
  }

  void badArgumentsAndFilesGiveClearErrors() {
    Result unknown = netloom({"train", kExamples + "/spirals_mlp.netloom", "--epoch", "3"});
    QCOMPARE(unknown.exit_code, 2);
    QVERIFY2(unknown.err.contains("unknown option --epoch"), qPrintable(unknown.err));
    Result missing = netloom({"info", dir_.filePath("nope.netloom")});
    QCOMPARE(missing.exit_code, 1);
    QVERIFY2(missing.err.contains("nope.netloom"), qPrintable(missing.err));
    Result epochs = netloom({"train", kExamples + "/spirals_mlp.netloom", "--epochs", "zero"});
    QVERIFY2(epochs.err.contains("--epochs"), qPrintable(epochs.err));
    Result command = netloom({"trian"});
    QCOMPARE(command.exit_code, 2);
    QVERIFY2(command.err.contains("no command 'trian'"), qPrintable(command.err));
    Result run_missing = netloom({"run", kExamples + "/spirals_mlp.netloom", "--output", dir_.filePath("o")});
    QVERIFY2(run_missing.err.contains("--input"), qPrintable(run_missing.err));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
