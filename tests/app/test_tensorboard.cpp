// TensorBoard event files: CRC-32C against its check value, TFRecord framing read back with
// checksums verified (and a flipped byte refused), and the events a run writes parsed back
// with the generated protobuf classes: file version first, scalars and histograms with their
// tags, steps and values.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include "app/tensorboard/event_writer.h"
#include "app/tensorboard/record_io.h"
#include "engine/run/layer_statistics.h"
#include "tensorboard/tensorboard_event.pb.h"

using namespace nl;
using netloom::tensorboard::Event;

class TestTensorBoard : public QObject {
  Q_OBJECT
 private slots:
  void crc32cCheckValue() {
    // The CRC-32C check value (RFC 3720, iSCSI) and TFRecord's mask of it.
    QCOMPARE(tensorboard::crc32c("123456789"), 0xE3069283u);
    QCOMPARE(tensorboard::crc32c(""), 0u);
    const uint32_t c = 0xE3069283u;
    QCOMPARE(tensorboard::masked_crc32c("123456789"), ((c >> 15) | (c << 17)) + 0xa282ead8u);
  }

  void recordsRoundTripAndCorruptionIsRefused() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("r.tfrecord").toStdString();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    tensorboard::write_record(f, "hello");
    tensorboard::write_record(f, std::string(1000, 'x'));
    tensorboard::write_record(f, "");
    std::fclose(f);
    auto records = tensorboard::read_records(path);
    QCOMPARE(records.size(), size_t{3});
    QCOMPARE(records[0], std::string("hello"));
    QCOMPARE(records[1], std::string(1000, 'x'));
    QCOMPARE(records[2], std::string());
    // Frame: 8-byte length, 4-byte masked CRC of it, data, 4-byte masked CRC of the data.
    QFile file(QString::fromStdString(path));
    QVERIFY(file.open(QIODevice::ReadWrite));
    QByteArray bytes = file.readAll();
    QCOMPARE(bytes.size(), (12 + 5 + 4) + (12 + 1000 + 4) + (12 + 0 + 4));
    QCOMPARE(bytes[0], char(5));
    bytes[14] = 'j';  // "hello" → "hejlo"
    file.seek(0);
    file.write(bytes);
    file.close();
    try {
      tensorboard::read_records(path);
      QFAIL("a corrupted record was accepted");
    } catch (const std::exception& e) {
      QVERIFY2(QString(e.what()).contains("record 0: data checksum does not match"), e.what());
    }
  }

  void runEventsReadBack() {
    QTemporaryDir dir;
    std::string path;
    {
      tensorboard::EventWriter w(dir.path().toStdString());
      path = w.path();
      for (int i = 1; i <= 3; ++i) {
        run::StepMetrics m;
        m.global_step = i;
        m.loss = 1.0 / i;
        m.accuracy = 0.25 * i;
        m.learning_rate = 0.01;
        m.samples_per_second = 100;
        w.on_step(m);
      }
      run::EpochMetrics e;
      e.train_loss = 0.5;
      e.has_validation = true;
      e.val_loss = 0.75;
      e.val_accuracy = 0.625;
      w.on_epoch(e);
      run::LayerStatisticsEvent ls;
      ls.global_step = 3;
      ls.total_gradient_norm = 2.5;
      run::LayerStatistics layer;
      layer.name = "fc1";
      layer.gradient_norm = 2.5;
      layer.weights = run::histogram({0, 1, 2, 3}, 2);
      layer.gradients = run::histogram({-1, 1}, 2);
      ls.layers.push_back(layer);
      w.on_layer_statistics(ls);
      w.on_finished({});
    }
    QVERIFY(QString::fromStdString(path).section('/', -1).startsWith("events.out.tfevents."));
    auto records = tensorboard::read_records(path);
    std::vector<Event> events(records.size());
    for (size_t i = 0; i < records.size(); ++i) QVERIFY(events[i].ParseFromString(records[i]));
    // Version record, 4 scalars × 3 steps, 4 epoch scalars, total norm, layer norm, 2 histograms.
    QCOMPARE(events.size(), size_t{1 + 12 + 4 + 2 + 2});
    QCOMPARE(events[0].file_version(), std::string("brain.Event:2"));
    QVERIFY(events[0].wall_time() > 1.6e9);
    std::map<std::string, std::vector<std::pair<int64_t, float>>> scalars;
    std::map<std::string, netloom::tensorboard::HistogramProto> histograms;
    for (size_t i = 1; i < events.size(); ++i) {
      QVERIFY(events[i].has_summary());
      QCOMPARE(events[i].summary().value_size(), 1);
      const auto& v = events[i].summary().value(0);
      if (v.has_histo()) histograms[v.tag()] = v.histo();
      else scalars[v.tag()].push_back({events[i].step(), v.simple_value()});
    }
    QCOMPARE(scalars["train/loss"].size(), size_t{3});
    QCOMPARE(scalars["train/loss"][1].first, int64_t{2});
    QCOMPARE(scalars["train/loss"][1].second, 0.5f);
    QCOMPARE(scalars["train/accuracy"][2].second, 0.75f);
    QCOMPARE(scalars["epoch/val_accuracy"].at(0), (std::pair<int64_t, float>{3, 0.625f}));
    QCOMPARE(scalars["gradient_norm/fc1"].at(0).second, 2.5f);
    const auto& h = histograms.at("weights/fc1");
    QCOMPARE(h.min(), 0.0);
    QCOMPARE(h.max(), 3.0);
    QCOMPARE(h.num(), 4.0);
    QCOMPARE(h.sum(), 6.0);
    QCOMPARE(h.sum_squares(), 14.0);
    QCOMPARE(h.bucket_limit_size(), 2);
    QCOMPARE(h.bucket_limit(0), 1.5);
    QCOMPARE(h.bucket(0), 2.0);
    QCOMPARE(h.bucket(1), 2.0);
    QVERIFY(histograms.count("gradients/fc1"));
  }
};

QTEST_MAIN(TestTensorBoard)
#include "test_tensorboard.moc"
