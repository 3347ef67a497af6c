// Search-to-add's ranking without widgets: prefix before word start before subsequence,
// categories below names, and the filter for a dragged wire.
#include <QTest>

#include "editor/search/layer_search.h"

using namespace nl::editor;
using nl::graph::LayerRegistry;

namespace {

QStringList types(const std::vector<LayerMatch>& matches) {
  QStringList out;
  for (const LayerMatch& m : matches) out << m.type;
  return out;
}

}  // namespace

class TestLayerSearch : public QObject {
  Q_OBJECT

 private slots:
  void emptyQueryListsEveryLayer() {
    LayerSearch search(LayerRegistry::builtin());
    QCOMPARE(search.find("").size(), LayerRegistry::builtin().size());
  }

  void prefixBeatsSubsequence() {
    LayerSearch search(LayerRegistry::builtin());
    QStringList found = types(search.find("conv2"));
    QVERIFY(found.contains("ConvTranspose2d"));
    QCOMPARE(found.first(), QString("Conv2d"));
    QVERIFY(found.indexOf("Conv2d") < found.indexOf("ConvTranspose2d"));
    // Same tier: the shorter (more basic) name first.
    found = types(search.find("conv"));
    QCOMPARE(found.mid(0, 2), (QStringList{"Conv1d", "Conv2d"}));
    QVERIFY(found.indexOf("ConvTranspose2d") > 1);
  }

  void wordStartBeatsSubsequence() {
    LayerSearch search(LayerRegistry::builtin());
    QStringList found = types(search.find("norm"));
    // "Norm" starts a word in BatchNorm2d/LayerNorm/GroupNorm; no layer starts with it.
    QVERIFY(found.contains("BatchNorm2d"));
    QVERIFY(found.contains("LayerNorm"));
    for (const LayerMatch& m : search.find("norm"))
      if (m.type.contains("Norm")) QCOMPARE(m.score, LayerSearch::kNameWordStart);
    QCOMPARE(LayerSearch::score("pool", "MaxPool2d", 3, 2, 1), 2);
    int scattered = LayerSearch::score("mxp", "MaxPool2d", 300, 200, 100);
    QVERIFY(scattered >= 100 && scattered < 200);  // the tightness bonus stays within its tier
    QCOMPARE(LayerSearch::score("zz", "MaxPool2d", 3, 2, 1), -1);
  }

  void categoryMatchesRankBelowNames() {
    LayerSearch search(LayerRegistry::builtin());
    std::vector<LayerMatch> found = search.find("activation");
    QVERIFY(!found.empty());
    QStringList names = types(found);
    QVERIFY2(names.contains("ReLU") && names.contains("GELU"), qPrintable(names.join(",")));
    for (const LayerMatch& m : found) QCOMPARE(m.category, QString::fromStdString(LayerRegistry::builtin().get(m.type.toStdString()).category));
    // "lin" names Linear first even though other layers' categories might contain l-i-n.
    QCOMPARE(types(search.find("lin")).first(), QString("Linear"));
  }

  void filterKeepsOnlyAcceptedLayers() {
    LayerSearch search(LayerRegistry::builtin());
    search.setFilter([](const nl::graph::LayerSchema& s) { return !s.inputs.empty(); });
    QStringList found = types(search.find(""));
    QVERIFY(!found.contains("Input"));
    QVERIFY(found.contains("Linear"));
  }
};

QTEST_MAIN(TestLayerSearch)
#include "test_layer_search.moc"
